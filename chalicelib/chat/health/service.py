"""Server health (seed 004 "GET /admin/v1/health"): real probes of DynamoDB and S3 with
measured latency, and the chat server's own components from its latest pushed status.

- database: one BatchGetItem asking every declared table for a key that does not exist:
  one round trip proves every table is there and answers reads.
- storage: HeadBucket on every declared bucket, in parallel.
- message_queue, federation, websocket: what the chat server last pushed to
  `POST /internal/status`, stored with its receive time in MetaItem "worker_status";
  older than STALE_SECONDS (or never pushed) they are `degraded` with a warning.

Overall `unhealthy` (HTTP 503) when the database or storage is unhealthy; `degraded` when
any component is degraded or unhealthy (or a storage probe is slower than
alert_rules.STORAGE_LATENCY_MS); `healthy` otherwise.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.core import clock, settings
from chalicelib.domain.alert_rules import STORAGE_LATENCY_MS
from chalicelib.store.buckets import BUCKETS, bucket_name
from chalicelib.store.tables import TABLES, MetaItem

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
STATUSES = (HEALTHY, DEGRADED, UNHEALTHY)
STALE_SECONDS = 300
WORKER_STATUS_KEY = "worker_status"
BOOTSTRAP_KEY = "bootstrap"
# component pushed by the chat server -> its count field, label in warnings
PUSHED = {
    "message_queue": ("queue_size", "Message queue"),
    "federation": ("active_connections", "Federation"),
    "websocket": ("active_connections", "WebSocket"),
}
_PROBE_KEY = {"S": "__health_probe__", "N": "0", "B": b"\x00"}


@lru_cache(maxsize=None)
def _probe_client(service: str, _settings):
    """A client for probes only: no retries, short timeouts, so a probe measures one
    round trip and an unreachable store is reported within seconds."""
    import boto3  # deferred: Lambda cold starts pay for every import
    from botocore.config import Config

    return boto3.session.Session().client(
        service, region_name=_settings.region, endpoint_url=_settings.endpoint_url,
        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                      connect_timeout=2, read_timeout=3))


def probe_client(service: str):
    return _probe_client(service, settings.get())


def _failure(exc: Exception) -> str:
    """A short, trace-free name for why a probe failed."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        return "Connection timeout"
    if isinstance(exc, EndpointConnectionError):
        return "Connection refused"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        return {"404": "NoSuchBucket", "403": "AccessDenied"}.get(code, code)
    return type(exc).__name__


def _connection_failure(error: str) -> bool:
    return error in ("Connection timeout", "Connection refused")


def _timed(call):
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _latency_status(latency_ms: float) -> str:
    return DEGRADED if latency_ms > STORAGE_LATENCY_MS else HEALTHY


def probe_database() -> dict:
    """Every table read once, in one BatchGetItem; latency of that round trip."""
    from chalicelib.core.observability import logger
    request = {}
    for model in TABLES:
        key = {}
        for attr in (model._hash_key_attribute(), model._range_key_attribute()):
            if attr is not None:
                key[attr.attr_name] = {attr.attr_type: _PROBE_KEY[attr.attr_type]}
        request[model.Meta.table_name] = {"Keys": [key]}
    try:
        latency = _timed(lambda: probe_client("dynamodb").batch_get_item(RequestItems=request))
    except Exception as exc:  # noqa: BLE001 - a probe reports, it never crashes the route
        logger.warning("database probe failed", extra={"error": repr(exc)})
        return {"status": UNHEALTHY, "latency_ms": None, "error": _failure(exc),
                "details": "Unable to connect to DynamoDB"}
    return {"status": _latency_status(latency), "latency_ms": round(latency),
            "details": f"DynamoDB: {len(TABLES)} tables reachable"}


def _head_bucket(name: str):
    try:
        return _timed(lambda: probe_client("s3").head_bucket(Bucket=name)), None
    except Exception as exc:  # noqa: BLE001
        return None, _failure(exc)


def probe_storage(pool: ThreadPoolExecutor | None = None) -> dict:
    """HeadBucket on every bucket (in parallel); latency of the slowest."""
    from chalicelib.core.observability import logger
    names = [bucket_name(logical) for logical in BUCKETS]
    results = list((pool.map if pool else map)(_head_bucket, names))
    failed = [(name, error) for name, (_, error) in zip(names, results) if error]
    if failed:
        logger.warning("storage probe failed", extra={"failed": failed})
        return {"status": UNHEALTHY, "latency_ms": None, "error": failed[0][1],
                "details": "Unable to reach S3 bucket" + ("s " if len(failed) > 1 else " ")
                           + ", ".join(name for name, _ in failed)}
    latency = max(latency for latency, _ in results)
    return {"status": _latency_status(latency), "latency_ms": round(latency),
            "details": f"S3: {len(names)} buckets reachable"}


@dataclass
class Meta:
    worker: dict | None        # {"received_at", "components"} as last pushed
    deployed_at: int | None
    readable: bool


def read_meta() -> Meta:
    """The chat server's last status and the bootstrap time (one BatchGetItem)."""
    from chalicelib.core.observability import logger
    try:
        items = {i.key: i.value for i in MetaItem.batch_get([WORKER_STATUS_KEY, BOOTSTRAP_KEY])}
    except Exception as exc:  # noqa: BLE001 - health still answers when storage is down
        logger.warning("health could not read meta items", extra={"error": repr(exc)})
        return Meta(None, None, False)
    bootstrap = items.get(BOOTSTRAP_KEY) or {}
    deployed = bootstrap.get("bootstrapped_at")
    return Meta(items.get(WORKER_STATUS_KEY), int(deployed) if deployed is not None else None,
                True)


def record_status(components: dict) -> int:
    """Store the chat server's pushed status with its receive time (last push wins)."""
    now = clock.now_int()
    MetaItem(key=WORKER_STATUS_KEY,
             value={"received_at": now,
                    "components": {name: components[name] for name in PUSHED}}).save()
    return now


@dataclass
class Snapshot:
    now: int
    database: dict
    storage: dict
    meta: Meta


def snapshot() -> Snapshot:
    """Both probes and the meta read, all at once."""
    for service in ("dynamodb", "s3"):
        probe_client(service)  # made here: creating boto3 clients is not thread-safe
    with ThreadPoolExecutor(max_workers=2 + len(BUCKETS)) as pool:
        database = pool.submit(probe_database)
        meta = pool.submit(read_meta)
        storage = probe_storage(pool)
        return Snapshot(clock.now_int(), database.result(), storage, meta.result())


def _pushed_components(snap: Snapshot, warnings: list[str]) -> dict:
    worker, now = snap.meta.worker, snap.now
    out = {}
    if worker is None:
        why = ("Chat server status unavailable: storage unreadable" if not snap.meta.readable
               else "Not reported by the chat server yet")
        warnings.append("Chat server status unavailable" if not snap.meta.readable
                        else "Chat server has not reported its status")
        for name, (count, _) in PUSHED.items():
            out[name] = {"status": DEGRADED, count: None, "details": why}
        return out
    age = max(0, now - int(worker["received_at"]))
    stale = age > STALE_SECONDS
    if stale:
        warnings.append(f"Chat server status is stale: last report {age} s ago")
    for name, (count, label) in PUSHED.items():
        pushed = worker["components"][name]
        status, details = pushed["status"], pushed["details"]
        if stale:
            status = UNHEALTHY if status == UNHEALTHY else DEGRADED
            details = f"Last reported {age} s ago: {details}"
        elif status != HEALTHY:
            warnings.append(f"{label} is {status}: {details}")
        out[name] = {"status": status, count: pushed[count], "details": details}
    if out["message_queue"]["status"] != HEALTHY and not stale:
        warnings.append("Message delivery may be delayed")
    return out


def _storage_warnings(label: str, component: dict, warnings: list[str]) -> None:
    if component["status"] == UNHEALTHY:
        error = component["error"]
        warnings.append(f"{label} connection failed" if _connection_failure(error)
                        else f"{label} check failed: {error}")
    elif component["status"] == DEGRADED:
        warnings.append(f"{label} latency {component['latency_ms']} ms is above "
                        f"{STORAGE_LATENCY_MS} ms")


def report() -> tuple[int, dict]:
    """(HTTP status, body): 503 when unhealthy, 200 otherwise."""
    snap = snapshot()
    warnings: list[str] = []
    _storage_warnings("Database", snap.database, warnings)
    _storage_warnings("Storage", snap.storage, warnings)
    components = {"database": snap.database, "storage": snap.storage,
                  **_pushed_components(snap, warnings)}
    if UNHEALTHY in (snap.database["status"], snap.storage["status"]):
        status = UNHEALTHY
    elif any(c["status"] != HEALTHY for c in components.values()):
        status = DEGRADED
    else:
        status = HEALTHY
    deployed = snap.meta.deployed_at
    body = {"status": status, "timestamp": snap.now, "version": settings.get().version,
            "uptime_seconds": None if deployed is None else max(0, snap.now - deployed),
            "components": components, "warnings": warnings}
    return (503 if status == UNHEALTHY else 200), body
