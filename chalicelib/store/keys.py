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
    """The instance's running totals (StreamTypeCounter items named by event_totals and
    "api_keys"), kept in the transactions of the acts they count so that the instance's
    details read them at once."""
    return f"{instance_id}#usage"


# Event totals are split over shards, chosen by stream, so that appends to different
# aggregates of one busy instance do not all update (and contend on) one item.
USAGE_SHARDS = 4


def month_of(ts: float) -> str:
    """The calendar month (UTC) a write is counted in: "YYYY-MM"."""
    import time
    return time.strftime("%Y-%m", time.gmtime(ts))


def event_totals(env: str, month: str, stream: str) -> list[str]:
    """The totals one append adds its events to: all time and this month, in the shard
    of its stream."""
    import zlib
    shard = zlib.crc32(stream.encode()) % USAGE_SHARDS
    return [_shard(f"events#{env}", shard), _shard(f"events#{env}#{month}", shard)]


def event_total_shards(env: str, month: str | None = None) -> list[str]:
    """Every shard of one total (all time, or one month's): what a reader sums."""
    base = f"events#{env}" + (f"#{month}" if month else "")
    return [_shard(base, shard) for shard in range(USAGE_SHARDS)]


def _shard(base: str, shard: int) -> str:
    return base if shard == 0 else f"{base}#s{shard}"   # shard 0 keeps the unsharded name


def idempotency_key(instance_id: str, env: str, key: str) -> str:
    return f"{scope_key(instance_id, env)}#{key}"
