"""What every table shares: where it lives and how it is billed."""
from __future__ import annotations

from pynamodb.models import Model

from chalicelib.core import settings
from chalicelib.store.aws import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    TOTAL_ATTEMPTS,
)

# PynamoDB's client: the same bounds as boto3's (chalicelib/store/aws.py). PynamoDB 6
# hands max_retry_attempts to botocore as total_max_attempts - 1 in standard mode, whose
# jittered pause (at most 1 s before the one retry) it does not let us set: the
# base_backoff_ms of PynamoDB 5 is no longer read. max_retry_attempts also bounds
# PynamoDB's re-sends of a batch write's unprocessed items.
TIMEOUTS = {"connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
            "read_timeout_seconds": READ_TIMEOUT_SECONDS,
            "max_retry_attempts": TOTAL_ATTEMPTS - 1}


def table_meta(name: str):
    """A PynamoDB Meta for table `name`, placed by the deployment's settings."""
    s = settings.get()

    class Meta:
        table_name = s.table_prefix + name
        region = s.region
        host = s.endpoint_url
        billing_mode = "PAY_PER_REQUEST"
        connect_timeout_seconds = TIMEOUTS["connect_timeout_seconds"]
        read_timeout_seconds = TIMEOUTS["read_timeout_seconds"]
        max_retry_attempts = TIMEOUTS["max_retry_attempts"]

    return Meta


def index_meta(name: str):
    """A global secondary index's Meta: every attribute projected."""
    from pynamodb.indexes import AllProjection

    class Meta:
        index_name = name
        projection = AllProjection()
    return Meta


class BaseModel(Model):
    """Marker base so the resource list can find every table declaration."""

    class Meta:
        abstract = True


_connection = None


def transact_write():
    """A PynamoDB TransactWrite on the deployment's endpoint (one round trip), with the
    tables' timeouts and retries (PynamoDB's own defaults are 15 s, 30 s, 4 tries)."""
    global _connection
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite

    s = settings.get()
    if _connection is None or _connection.region != s.region or _connection.host != s.endpoint_url:
        _connection = Connection(region=s.region, host=s.endpoint_url, **TIMEOUTS)
    return TransactWrite(connection=_connection)


def rebind(models) -> None:
    """Point every model at the current settings' endpoint and region (tests and tools
    that switch between moto's server and the in-process mock)."""
    s = settings.get()
    for model in models:
        model.Meta.host = s.endpoint_url
        model.Meta.region = s.region
        model._connection = None
