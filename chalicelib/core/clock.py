"""The one clock and the one source of random ids, so tests can move time."""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

_offset = 0.0


def now() -> float:
    return time.time() + _offset


def now_int() -> int:
    return int(now())


def advance(seconds: float) -> None:
    """Move the clock forward (tests and the local runner only)."""
    global _offset
    _offset += seconds


def reset() -> None:
    global _offset
    _offset = 0.0


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 with a zone ('Z' or an offset) to unix seconds; ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone, e.g. 2024-02-01T00:00:00Z")
    return value.timestamp()


def new_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(16)
