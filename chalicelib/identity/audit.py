"""The audit trail: one entry per admin act, shaped as seed 004 shows."""
from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

from chalicelib.core import clock
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store.tables import AuditEntry


def month_of(ts: int) -> str:
    return _time.strftime("%Y-%m", _time.gmtime(ts))


def sort_key(ts: int, entry_id: str) -> str:
    return f"{ts:010d}#{entry_id}"


# --- writing the trail ---------------------------------------------------------------------

@dataclass
class Note:
    """What an admin act tells the trail: its target and details. A service returns it
    with its answer; the route adds the declared action and the caller."""
    target: str
    details: dict = field(default_factory=dict)
    actor: Principal | None = None  # who acted, when not the caller (a login: who logged in)
    written: bool = False  # the act already wrote the entry, inside its own transaction


@dataclass(frozen=True)
class Act:
    """Who acts, as which audited action, from where. A service whose act is one
    DynamoDB transaction puts the entry into that transaction (put), so the act and
    its entry exist together or not at all; otherwise the route writes it (record)."""
    actor: Principal
    action: str
    origin: Origin = Origin()

    def entry(self, note: Note) -> AuditEntry:
        ts = clock.now_int()
        entry_id = clock.new_id("audit_")
        return AuditEntry(month=month_of(ts), sort_key=sort_key(ts, entry_id), id=entry_id,
                          timestamp=ts, action=self.action,
                          admin=(note.actor or self.actor).subject,
                          target=note.target, details=note.details or {},
                          ip_address=self.origin.ip_address, user_agent=self.origin.user_agent)

    def put(self, tx, note: Note) -> None:
        """Add the entry to the caller's transaction. It goes in as an UpdateItem of a new
        key, so it is sent after the records' own writes and never shifts the positions
        by which a cancelled transaction names the record whose condition failed."""
        entry = self.entry(note)
        actions = [getattr(AuditEntry, name).set(value)
                   for name, value in entry.attribute_values.items()
                   if name not in ("month", "sort_key") and value is not None]
        tx.update(AuditEntry(month=entry.month, sort_key=entry.sort_key), actions=actions)
        note.written = True

    def commit(self, note: Note, write) -> bool:
        """One transaction: `write(tx)` adds the act's writes, then the entry goes in.
        True when it committed; False when a condition of the act failed (nothing was
        written); any other failure raises."""
        from pynamodb.exceptions import TransactWriteError

        from chalicelib.store.base import transact_write
        from chalicelib.store.conditions import condition_failed
        try:
            with transact_write() as tx:
                write(tx)
                self.put(tx, note)
            return True
        except TransactWriteError as exc:
            if condition_failed(exc):
                note.written = False
                return False
            raise

    def record(self, note: Note) -> dict:
        """Write the entry on its own (acts that are not one transaction)."""
        entry = self.entry(note)
        entry.save()
        note.written = True
        return to_json(entry)


def record(actor: Principal, action: str, target: str, details: dict | None = None,
           origin: Origin | None = None) -> dict:
    """An entry for an act no route declares: failed logins, the scheduler's and the
    moderation rules' own acts."""
    return Act(actor, action, origin or Origin()).record(Note(target, details or {}))


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


# --- reading the trail -------------------------------------------------------------------

MAX_LIMIT = 1000


def _months_between(since: int, until: int) -> list[str]:
    """Every month from until's back to since's, newest first."""
    newest = month_of(until)
    oldest = month_of(since)
    months = []
    for month in months_back(until, 10_000):
        months.append(month)
        if month <= oldest:
            break
    return months if newest >= oldest else []


def _plan(since: int, until: int, action, admin, target):
    """The queries that cover the filters, newest first: (query function, hash key) pairs
    and a filter condition for the filters the chosen index does not key on."""
    filters = [(AuditEntry.action, action), (AuditEntry.admin, admin), (AuditEntry.target, target)]
    for index, (attr, value) in zip((AuditEntry.by_action, AuditEntry.by_admin,
                                     AuditEntry.by_target), filters):
        if value is not None:
            rest = [a == v for a, v in filters if v is not None and a is not attr]
            return [(index, value)], _and(rest)
    rest = [a == v for a, v in filters if v is not None]
    return [(AuditEntry, m) for m in _months_between(since, until)], _and(rest)


def _and(conditions):
    out = None
    for c in conditions:
        out = c if out is None else out & c
    return out


def _range(since: int, until: int, before: str | None):
    upper = min(before, f"{until:010d}#~") if before else f"{until:010d}#~"
    return AuditEntry.sort_key.between(f"{since:010d}#", upper)


def iterate(since: int, until: int, action=None, admin=None, target=None,
            before: str | None = None):
    """Matching entries newest first, read lazily page by page (never a scan)."""
    plan, condition = _plan(since, until, action, admin, target)
    for source, key in plan:
        for entry in source.query(key, _range(since, until, before), filter_condition=condition,
                                  scan_index_forward=False, page_size=500):
            if before is not None and entry.sort_key >= before:
                continue  # the cursor entry itself was on the previous page
            yield entry


def count(since: int, until: int, action=None, admin=None, target=None) -> int:
    plan, condition = _plan(since, until, action, admin, target)
    return sum(source.count(key, _range(since, until, None), filter_condition=condition)
               for source, key in plan)


def query(since: int, until: int, action=None, admin=None, target=None, limit: int = 100,
          offset: int = 0) -> dict:
    """Seed 004's audit answer: entries, total_count, has_more, next_offset."""
    total = count(since, until, action, admin, target)
    entries = []
    if offset < total:
        for i, entry in enumerate(iterate(since, until, action, admin, target)):
            if i >= offset + limit:
                break
            if i >= offset:
                entries.append(to_json(entry))
    has_more = offset + len(entries) < total
    return {"entries": entries, "total_count": total, "has_more": has_more,
            "next_offset": offset + len(entries) if has_more else None}


EXPORT_PAGE = 5000
CSV_COLUMNS = ["id", "timestamp", "action", "admin", "target", "details", "ip_address"]


def export_page(since: int, until: int, action=None, admin=None, target=None,
                cursor: str | None = None) -> tuple[list[dict], str | None]:
    """Up to EXPORT_PAGE entries newest first and the cursor of the next page (or None):
    a year of entries is read page by page, never held in memory at once."""
    page, last_key = [], None
    for entry in iterate(since, until, action, admin, target, before=cursor):
        if len(page) == EXPORT_PAGE:
            return page, last_key  # one more entry exists: the page ends at last_key
        page.append(to_json(entry))
        last_key = entry.sort_key
    return page, None


def csv_details(details: dict) -> str:
    """The seed's CSV shows an entry's reason; entries without one keep their JSON."""
    import json
    if isinstance(details, dict) and isinstance(details.get("reason"), str):
        return details["reason"]
    return json.dumps(details, separators=(",", ":"), sort_keys=True)


def to_csv(entries: list[dict], header: bool = True) -> str:
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e["id"], e["timestamp"], e["action"], e["admin"], e["target"],
                         csv_details(e["details"]), e["ip_address"] or ""])
    return out.getvalue()
