"""The chat server's configuration document: one versioned item, the defaults until an
admin first patches it. Read by the config feature and by everything the config
governs (trust tiers and rate limits)."""
from __future__ import annotations

from chalicelib.core import settings
from chalicelib.domain import server_config as schema
from chalicelib.domain import trust
from chalicelib.store.tables import MetaItem

KEY = "server_config"


def load() -> tuple[dict, int]:
    """(config, version); version 0 means the defaults, never written."""
    try:
        item = MetaItem.get(KEY, consistent_read=True)
        return item.value["config"], int(item.version)
    except MetaItem.DoesNotExist:
        return schema.default_config(settings.get().server_name), 0


def current() -> dict:
    return load()[0]


def trust_config() -> trust.TrustConfig:
    return trust.TrustConfig.from_config(current())
