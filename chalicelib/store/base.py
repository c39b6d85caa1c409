"""What every table shares: where it lives and how it is billed."""
from __future__ import annotations

from pynamodb.models import Model

from chalicelib.core import settings


def table_meta(name: str):
    """A PynamoDB Meta for table `name`, placed by the deployment's settings."""
    s = settings.get()

    class Meta:
        table_name = s.table_prefix + name
        region = s.region
        host = s.endpoint_url
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 3
        connect_timeout_seconds = 2
        read_timeout_seconds = 5

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
    """A PynamoDB TransactWrite on the deployment's endpoint (one round trip)."""
    global _connection
    from pynamodb.connection import Connection
    from pynamodb.transactions import TransactWrite

    s = settings.get()
    if _connection is None or _connection.region != s.region or _connection.host != s.endpoint_url:
        _connection = Connection(region=s.region, host=s.endpoint_url)
    return TransactWrite(connection=_connection)


def rebind(models) -> None:
    """Point every model at the current settings' endpoint and region (tests and tools
    that switch between moto's server and the in-process mock)."""
    s = settings.get()
    for model in models:
        model.Meta.host = s.endpoint_url
        model.Meta.region = s.region
        model._connection = None
