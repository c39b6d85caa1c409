"""The audit trail: one entry per admin act, shaped as seed 004 shows."""
from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass, field

from chalicelib.core import caches, clock
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store.tables import AuditEntry, MetaItem

# since/until of a query: the unix epoch to 9999-12-31T23:59:59Z (clock's range)
MIN_TS, MAX_TS = clock.MIN_TS, clock.MAX_TS


def month_of(ts: int) -> str:
    return _time.strftime("%Y-%m", _time.gmtime(min(max(int(ts), MIN_TS), MAX_TS)))


# --- which months hold entries ---------------------------------------------------------------
#
# MetaItem "audit_months" keeps the oldest and newest month holding an entry
# (first_month, last_month), so an unfiltered query reads only the months between them,
# whatever range it asks for. Each is moved only outward, by a conditional write made
# BEFORE the entry it covers is written (the bounds are never narrower than the trail;
# an act whose transaction then fails leaves them at most a month wider). A container
# remembers the bounds it has seen, so a write costs an extra round trip only on its
# container's first entry and when an entry falls outside them (a new month).

MONTHS_KEY = "audit_months"
_known: dict = {}
_learning = threading.Lock()


def _forget() -> None:
    _known.clear()


caches.register("audit_months", _forget)


def note_month(month: str) -> None:
    """Make sure the recorded bounds include `month` ("YYYY-MM"). Free when this container
    already knows they do; also the way to cover entries written before the bounds
    existed (call it once with the oldest month of such a trail)."""
    first, last = _known.get("first"), _known.get("last")
    if first is not None and first <= month <= last:
        return
    with _learning:  # threads of one container learn the bounds once
        _note(month)


def _note(month: str) -> None:
    from chalicelib.store.conditions import update_if
    first, last = _known.get("first"), _known.get("last")
    if first is not None and first <= month <= last:
        return
    item = MetaItem(key=MONTHS_KEY)
    if first is None:  # this container's first entry: learn the bounds, set them if none
        item.update(actions=[MetaItem.first_month.set(MetaItem.first_month | month),
                             MetaItem.last_month.set(MetaItem.last_month | month)])
        first, last = item.first_month, item.last_month
    if month < first:  # a lost race leaves an even earlier month there: also fine
        update_if(item, [MetaItem.first_month.set(month)], MetaItem.first_month > month)
        first = month
    if month > last:
        update_if(item, [MetaItem.last_month.set(month)], MetaItem.last_month < month)
        last = month
    _known.update(first=first, last=last)


def recorded_months() -> tuple[str, str] | None:
    """(first, last) month holding entries, or None before the first entry (one
    consistent GetItem)."""
    try:
        item = MetaItem.get(MONTHS_KEY, consistent_read=True)
    except MetaItem.DoesNotExist:
        return None
    if not item.first_month or not item.last_month:
        return None
    return item.first_month, item.last_month


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
        note_month(entry.month)
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
        note_month(entry.month)
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


# --- reading the trail -------------------------------------------------------------------

MAX_LIMIT = 1000
READ_PAGE = 500


def bounded(since: int, until: int) -> tuple[int, int]:
    """since and until inside [MIN_TS, MAX_TS]."""
    return max(int(since), MIN_TS), min(int(until), MAX_TS)


def _months_between(since: int, until: int) -> list[str]:
    """The months that may hold entries from since to until, newest first: the requested
    months cut to the recorded first and last month, so the work follows the trail's age,
    not the range asked for (since=0&until=253402300799 reads the months that exist)."""
    bounds = recorded_months()
    if bounds is None:
        return []
    oldest, newest = max(month_of(since), bounds[0]), min(month_of(until), bounds[1])
    if newest < oldest:
        return []
    year, month = map(int, newest.split("-"))
    months = []
    while True:
        label = f"{year:04d}-{month:02d}"
        if label < oldest:
            return months
        months.append(label)
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)


def _plan(since: int, until: int, action, admin, target):
    """The queries that cover the filters, newest first: (query function, hash key) pairs
    and a filter condition for the filters the chosen index does not key on. A filter
    given is one Query of its index (no months); without one, one Query per month."""
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
    """Matching entries newest first, read lazily page by page (never a scan). With a
    cursor (`before`), months after the cursor's are not read."""
    since, until = bounded(since, until)
    if before is not None:
        until = min(until, int(before.split("#", 1)[0]))
    if since > until:
        return
    plan, condition = _plan(since, until, action, admin, target)
    for source, key in plan:
        for entry in source.query(key, _range(since, until, before), filter_condition=condition,
                                  scan_index_forward=False, page_size=READ_PAGE):
            if before is not None and entry.sort_key >= before:
                continue  # the cursor entry itself was on the previous page
            yield entry


def count(since: int, until: int, action=None, admin=None, target=None) -> int:
    """Entries matching, counted with Select=COUNT Queries (no entry is read)."""
    since, until = bounded(since, until)
    plan, condition = _plan(since, until, action, admin, target)
    return sum(source.count(key, _range(since, until, None), filter_condition=condition)
               for source, key in plan)


def query(since: int, until: int, action=None, admin=None, target=None, limit: int = 100,
          offset: int = 0) -> dict:
    """Seed 004's audit answer: entries, total_count, has_more, next_offset.

    One pass over the plan, newest first: each month (or the one index Query) is counted
    with Select=COUNT, and its entries are read only when the page [offset, offset+limit)
    falls in it, and only as far as the page needs; months before and after the page cost
    their COUNT alone, and only months between the recorded first and last are visited."""
    since, until = bounded(since, until)
    plan, condition = _plan(since, until, action, admin, target) if since <= until else ([], None)
    total, entries = 0, []
    for source, key in plan:
        key_range = _range(since, until, None)
        n = source.count(key, key_range, filter_condition=condition)
        if n and len(entries) < limit and total + n > offset:
            skip = max(offset - total, 0)
            want = skip + limit - len(entries)
            page = READ_PAGE if condition is not None else min(want, READ_PAGE)
            for i, entry in enumerate(source.query(
                    key, key_range, filter_condition=condition, scan_index_forward=False,
                    limit=want, page_size=page)):
                if i >= skip:
                    entries.append(to_json(entry))
        total += n
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
