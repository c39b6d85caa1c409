"""boto3 clients made lazily, once per container (no AWS client at import time).

Every AWS call in a request, boto3's and PynamoDB's (chalicelib/store/base.py) alike, is
bounded so an unreachable backend answers 503 well inside API Gateway's 29 s: connect
within CONNECT_TIMEOUT_SECONDS, each read within READ_TIMEOUT_SECONDS, and TOTAL_ATTEMPTS
tries (botocore's standard mode: one retry, after a jittered pause of at most 1 s). A
hung backend thus fails a call within 2 x (1 + 2) + 1 = 7 s at worst (5 s when the
connection is accepted but never answered), and the request answers at once after it
(the wrapper does not write the error to the store that just failed)."""
from __future__ import annotations

from functools import lru_cache

from chalicelib.core import settings

CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
TOTAL_ATTEMPTS = 2


def client_config():
    """The botocore Config every client of ours uses."""
    from botocore.config import Config
    return Config(retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
                  connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS)


@lru_cache(maxsize=None)
def client(service: str):
    import boto3  # deferred: Lambda cold starts pay for every import

    s = settings.get()
    return boto3.client(service, region_name=s.region, endpoint_url=s.endpoint_url,
                        config=client_config())


def reset() -> None:
    client.cache_clear()
