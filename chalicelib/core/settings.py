"""Deployment settings, read from the environment once per container."""
from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=1)
def get() -> "Settings":
    return Settings()


class Settings:
    def __init__(self):
        env = os.environ
        self.table_prefix = env.get("TABLE_PREFIX", "adminplane-dev-")
        self.bucket_prefix = env.get("BUCKET_PREFIX", "adminplane-dev-")
        self.queue_prefix = env.get("QUEUE_PREFIX", "adminplane-dev-")
        self.region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1"
        self.endpoint_url = env.get("AWS_ENDPOINT_URL") or None
        self.signing_secret_name = env.get("SIGNING_KEY_SECRET", "adminplane/dev/jwt-signing-key")
        self.node_secret_name = env.get("NODE_SECRET_NAME", "adminplane/dev/node-secret")
        self.server_name = env.get("SERVER_NAME", "chat.example.com")
        self.server_config_file = env.get("SERVER_CONFIG_FILE", "server.toml")
        self.token_audience = env.get("TOKEN_AUDIENCE", "adminplane")
        self.version = env.get("APP_VERSION", "1.0.0")
        # the operator dashboard's built files: a local folder (make run), else the bucket
        self.dashboard_dir = env.get("DASHBOARD_DIR") or None
        # argon2id cost; production keeps libsodium's "interactive" limits.
        self.pwhash_profile = env.get("PASSWORD_HASH_PROFILE", "interactive")
        # tombstones: the grace period before an erasure may run (hours); never below 72
        self.tombstone_grace_hours = max(72.0, _number(env.get("TOMBSTONE_GRACE_HOURS"), 72.0))
        # listener deliveries (chalicelib/platform/webhooks): the AES key sealing listener
        # secrets; each attempt's timeout; attempts per round; a factor on every retry
        # delay (tests and benchmarks only); loopback receivers (make run only, never AWS)
        self.webhook_key_secret_name = env.get("WEBHOOK_KEY_SECRET",
                                               "adminplane/dev/webhook-secrets-key")
        self.webhook_timeout_ms = int(min(30000, max(100, _number(
            env.get("WEBHOOK_TIMEOUT_MS"), 10000))))
        self.webhook_max_attempts = int(min(10, max(1, _number(
            env.get("WEBHOOK_MAX_ATTEMPTS"), 3))))
        self.webhook_time_scale = min(1.0, max(0.0, _number(env.get("WEBHOOK_TIME_SCALE"), 1.0)))
        self.webhook_allow_loopback = env.get("WEBHOOK_ALLOW_LOOPBACK", "").lower() in (
            "1", "true", "yes")


def _number(text: str | None, default: float) -> float:
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


def reset() -> None:
    get.cache_clear()
