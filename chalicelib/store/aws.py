"""boto3 clients made lazily, once per container (no AWS client at import time)."""
from __future__ import annotations

from functools import lru_cache

from chalicelib.core import settings


@lru_cache(maxsize=None)
def client(service: str):
    import boto3  # deferred: Lambda cold starts pay for every import
    from botocore.config import Config

    s = settings.get()
    return boto3.client(service, region_name=s.region, endpoint_url=s.endpoint_url,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                      connect_timeout=2, read_timeout=5))


def reset() -> None:
    client.cache_clear()
