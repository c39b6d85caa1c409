"""The `server` section of the metrics: this deployment and this process, measured.

  uptime_seconds     now - MetaItem "bootstrap".bootstrapped_at (one GetItem)
  version            settings.version (APP_VERSION)
  cpu_usage_percent  CPU time of this process (user + system, os.times) divided by its wall
                     time since it started (/proc/self/stat; module import time elsewhere),
                     percent of one CPU: on Lambda, the container's average so far
  memory_usage_mb    resident set size of this process (/proc/self/statm; peak RSS from
                     resource.getrusage where /proc is missing), MiB
  storage_used_gb    TableSizeBytes of every table (DescribeTable; DynamoDB refreshes it
                     about every six hours) + the sizes of the current objects of every
                     bucket (ListObjectsV2), GiB. Costs one call per table and one per
                     1,000 objects, so it is cached per container for STORAGE_CACHE_SECONDS.
                     null when AWS refuses (needs dynamodb:DescribeTable, s3:ListBucket).
"""
from __future__ import annotations

import os
import time

from chalicelib.core import caches, clock, settings

STORAGE_CACHE_SECONDS = 300
STORAGE_RETRY_SECONDS = 60  # after AWS refused to tell
GIB = 1024 ** 3
MIB = 1024 ** 2

_IMPORTED_AT = time.time()
_storage_cache: dict = {}


def snapshot() -> dict:
    return {"uptime_seconds": uptime_seconds(), "version": settings.get().version,
            "cpu_usage_percent": cpu_usage_percent(), "memory_usage_mb": memory_usage_mb(),
            "storage_used_gb": storage_used_gb()}


def uptime_seconds() -> int | None:
    from chalicelib.store.tables import MetaItem
    try:
        started = MetaItem.get("bootstrap").value.get("bootstrapped_at")
    except MetaItem.DoesNotExist:
        return None
    return None if started is None else max(0, clock.now_int() - int(started))


def _process_started_at() -> float:
    """Wall-clock start of this process (Linux /proc), else when this module was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5); fields[0] is field 3
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def cpu_usage_percent() -> float:
    times = os.times()
    cpu = times.user + times.system
    wall = max(time.time() - _process_started_at(), 1e-3)
    return round(100.0 * cpu / wall, 1)


def memory_usage_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            resident_pages = int(fh.read().split()[1])
        return round(resident_pages * os.sysconf("SC_PAGE_SIZE") / MIB, 1)
    except (OSError, ValueError, IndexError):
        import resource
        import sys
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return round(peak / (MIB if sys.platform == "darwin" else 1024), 1)


def storage_used_bytes() -> int:
    """Every table's TableSizeBytes plus every bucket's object sizes (uncached)."""
    from chalicelib.store.aws import client
    from chalicelib.store.buckets import BUCKETS, bucket_name
    from chalicelib.store.tables import TABLES

    dynamodb, s3 = client("dynamodb"), client("s3")
    total = 0
    for model in TABLES:
        total += int(dynamodb.describe_table(TableName=model.Meta.table_name)["Table"]
                     .get("TableSizeBytes", 0))
    for logical in BUCKETS:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_name(logical)):
            total += sum(int(obj["Size"]) for obj in page.get("Contents", ()))
    return total


def storage_used_gb() -> float | None:
    """storage_used_bytes in GiB (6 decimals), cached per container for a few minutes.
    None when AWS refuses to tell (e.g. a policy without dynamodb:DescribeTable): the rest
    of the metrics still answer, and the refusal is logged."""
    from botocore.exceptions import ClientError
    s = settings.get()
    key = (s.table_prefix, s.bucket_prefix, s.endpoint_url)
    cached = _storage_cache.get(key)
    now = time.monotonic()
    if cached is None or now >= cached[1]:
        try:
            cached = (storage_used_bytes(), now + STORAGE_CACHE_SECONDS)
        except ClientError:
            from chalicelib.core.observability import logger
            logger.exception("storage size unavailable")
            cached = (None, now + STORAGE_RETRY_SECONDS)
        _storage_cache.clear()
        _storage_cache[key] = cached
    return None if cached[0] is None else round(cached[0] / GIB, 6)


def clear_cache() -> None:
    _storage_cache.clear()


caches.register("storage_figures", clear_cache)
