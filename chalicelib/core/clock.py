"""The one clock and the one source of random ids, so tests can move time."""
from __future__ import annotations

import math
import os
import secrets
import time
from datetime import datetime, timezone

_offset = 0.0

# The range of every timestamp the control plane accepts: the unix epoch to the last
# second of year 9999 in UTC (what an ISO 8601 / RFC 3339 date with a 4-digit year can
# name in UTC). parse_iso refuses values outside it; integer inputs use the same bounds.
MIN_TS = 0
MAX_TS = 253402300799  # 9999-12-31T23:59:59Z
MIN_ISO = "1970-01-01T00:00:00Z"
MAX_ISO = "9999-12-31T23:59:59Z"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _offset_file() -> str | None:
    """CLOCK_OFFSET_FILE: a file holding seconds to add to the clock, re-read at most every
    0.2 s, so an end-to-end test can move the time of every process of a `make run` stack
    (the grace period of a tombstone, 72 h at least, passes without waiting). Honoured only
    against the embedded AWS on loopback: a deployed stage never reads it."""
    path = os.environ.get("CLOCK_OFFSET_FILE")
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or ""
    if path and ("://127.0.0.1" in endpoint or "://localhost" in endpoint):
        return path
    return None


_file_seen = [-1.0, 0.0, None]     # [monotonic time read, offset, path]


def _file_offset() -> float:
    tick = time.monotonic()
    if tick - _file_seen[0] >= 0.2:
        _file_seen[0] = tick
        _file_seen[2] = path = _offset_file()
        if path is None:
            _file_seen[1] = 0.0
            return 0.0
        try:
            with open(path) as f:
                _file_seen[1] = float(f.read().strip() or 0)
        except (OSError, ValueError):
            _file_seen[1] = 0.0
    return _file_seen[1]


def now() -> float:
    return time.time() + _offset + _file_offset()


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
    """Unix seconds as ISO 8601 UTC (whole seconds). Never raises on a stored value: one
    outside [MIN_TS, MAX_TS] (only data written before parse_iso checked its range) is
    shown clamped to the nearest end of the range; a value that is not a number at all
    (NaN) is shown as None."""
    if ts is None:
        return None
    try:
        ts = float(ts)
    except (TypeError, ValueError):
        return None
    if math.isnan(ts):
        return None
    if ts >= MAX_TS + 1:
        return MAX_ISO
    if ts < MIN_TS:
        return MIN_ISO
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """ISO 8601 with a zone ('Z' or an offset) to unix seconds; ValueError otherwise,
    also when the instant is outside [MIN_TS, MAX_TS + 1) in UTC: "9999-12-31T23:59:59-14:00"
    is 10000-01-01T13:59:59Z and is refused, though its local date is valid."""
    if not isinstance(text, str):
        raise ValueError("timestamp must be an ISO 8601 string")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise ValueError(f"not an ISO 8601 date-time: {text[:64]!r}") from None
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone, e.g. 2024-02-01T00:00:00Z")
    delta = value - _EPOCH  # exact (a timedelta), even where UTC is past datetime's range
    seconds = delta.days * 86400 + delta.seconds
    if not MIN_TS <= seconds <= MAX_TS:
        raise ValueError(f"must be between {MIN_ISO} and {MAX_ISO} (UTC)")
    ts = seconds + delta.microseconds / 1_000_000
    if int(ts) != seconds:  # 9999-12-31T23:59:59.999999Z would round up to the next second
        ts = math.nextafter(float(seconds + 1), 0)
    return ts


def new_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(16)
