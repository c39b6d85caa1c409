"""Key formats shared by several tables: built here only, so that every writer and
reader of a partition agrees on its key."""
from __future__ import annotations


def scope_key(instance_id: str, env: str) -> str:
    """An instance environment: the partition of its specs, counters and backups."""
    return f"{instance_id}#{env}"


def stream_key(instance_id: str, env: str, agg_type: str, agg_id: str) -> str:
    """One aggregate's event stream."""
    return f"{scope_key(instance_id, env)}#{agg_type}#{agg_id}"


def scope_type_key(instance_id: str, env: str, agg_type: str) -> str:
    """Every stream of one aggregate type in an instance environment."""
    return f"{scope_key(instance_id, env)}#{agg_type}"


def usage_key(instance_id: str) -> str:
    """The instance's running totals (StreamTypeCounter items "events#<env>"), kept by
    every append's transaction so that the instance's details read them at once."""
    return f"{instance_id}#usage"


def idempotency_key(instance_id: str, env: str, key: str) -> str:
    return f"{scope_key(instance_id, env)}#{key}"
