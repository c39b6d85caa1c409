"""The audit trail: one entry per admin act, shaped as seed 004 shows."""
from __future__ import annotations

import contextvars
import time as _time

from chalicelib import clock
from chalicelib.services.principal import Origin, Principal
from chalicelib.store.tables import AuditEntry


# How many entries this request has written: the route wrapper checks it is one.
_written: contextvars.ContextVar[int] = contextvars.ContextVar("audit_written", default=0)


def begin_request() -> None:
    _written.set(0)


def written() -> int:
    return _written.get()


def month_of(ts: int) -> str:
    return _time.strftime("%Y-%m", _time.gmtime(ts))


def sort_key(ts: int, entry_id: str) -> str:
    return f"{ts:010d}#{entry_id}"


def record(actor: Principal, action: str, target: str, details: dict | None = None,
           origin: Origin | None = None) -> dict:
    ts = clock.now_int()
    entry_id = clock.new_id("audit_")
    origin = origin or Origin()
    entry = AuditEntry(month=month_of(ts), sort_key=sort_key(ts, entry_id), id=entry_id,
                       timestamp=ts, action=action, admin=actor.subject, target=target,
                       details=details or {}, ip_address=origin.ip_address,
                       user_agent=origin.user_agent)
    entry.save()
    _written.set(_written.get() + 1)
    return to_json(entry)


def to_json(entry: AuditEntry) -> dict:
    return {"id": entry.id, "timestamp": int(entry.timestamp), "action": entry.action,
            "admin": entry.admin, "target": entry.target, "details": entry.details or {},
            "ip_address": entry.ip_address, "user_agent": entry.user_agent}


def months_back(ts: int, count: int) -> list[str]:
    """The month of `ts` and the `count - 1` months before it, newest first."""
    year, month = map(int, month_of(ts).split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def recent(limit: int = 100, months: int = 2) -> list[dict]:
    """Newest entries first from the latest months (a query per month, never a scan)."""
    out: list[dict] = []
    for month in months_back(clock.now_int(), months):
        for entry in AuditEntry.query(month, scan_index_forward=False, limit=limit - len(out)):
            out.append(to_json(entry))
        if len(out) >= limit:
            break
    return out
