"""Secrets Manager secrets, declared once and read once per container."""
from __future__ import annotations

from chalicelib.core import caches, settings

CACHE_SECONDS = 300

# logical name -> (settings attribute holding its name, what it holds)
SECRETS = {
    "signing_key": ("signing_secret_name", "hex Ed25519 seed that signs admin JWTs"),
    "node_secret": ("node_secret_name", "SHA-256 hex of the node secret workers present"),
    "webhook_key": ("webhook_key_secret_name",
                    "hex AES-256 key sealing listeners' webhook signing secrets"),
}


def secret_name(logical: str) -> str:
    return getattr(settings.get(), SECRETS[logical][0])


def read(logical: str) -> str:
    """Through Powertools Parameters (cached CACHE_SECONDS), with our client: Powertools'
    own would use botocore's defaults (60 s connect and read timeouts, legacy retries),
    so an unreachable Secrets Manager would hold a request for minutes."""
    from aws_lambda_powertools.utilities import parameters  # deferred import
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    from chalicelib.store.aws import client
    sm = client("secretsmanager")
    provider = DEFAULT_PROVIDERS.get("secrets")
    if provider is None or provider.client is not sm:
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=sm)
    return parameters.get_secret(secret_name(logical), max_age=CACHE_SECONDS)


def write(logical: str, value: str) -> None:
    """Create or replace a secret (bootstrap and key rotation)."""
    from chalicelib.store.aws import client
    sm = client("secretsmanager")
    name = secret_name(logical)
    try:
        sm.put_secret_value(SecretId=name, SecretString=value)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=value)
    clear_cache()


def exists(logical: str) -> bool:
    from chalicelib.store.aws import client
    sm = client("secretsmanager")
    try:
        sm.describe_secret(SecretId=secret_name(logical))
        return True
    except sm.exceptions.ResourceNotFoundException:
        return False


def clear_cache() -> None:
    from aws_lambda_powertools.utilities import parameters
    parameters.clear_caches()


caches.register("secrets", clear_cache)
