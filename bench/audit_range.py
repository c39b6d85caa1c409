"""The worst audit query, before and after its range was bounded:

    python -m bench.audit_range            # the seed's algorithm in full (~20,000 Queries)
    python -m bench.audit_range --quick    # the seed's algorithm over its first 500 months,
                                           # scaled to its 10,000 (an estimate, marked ~)

In moto's in-process mock with the API tests' setup (bench.common.api_stack), a trail of
ENTRIES_PER_MONTH entries in each of the last MONTHS months is written through
identity.audit (which records the first and last month), then
`GET /admin/v1/audit?since=0&until=253402300799` is asked:

- before: the seed's query, kept below as `seed_query`: total_count summed over one COUNT
  Query per month from until's month back at most 10,000 months, then the entries read
  month by month newest first (one more Query per month) until the page was full. For
  this range the 10,000 months end in year 9166, so it read nothing of the trail either.
- after: identity.audit.query (the route's), which visits only the months between the
  recorded first and last month, counting each with Select=COUNT and reading only the
  month(s) holding the page; and the same through the route (authentication, rate limit
  and the bounds' GetItem included).

Round trips are every AWS call counted at botocore; seconds are in-process against moto
(NOT AWS latency: each moto Query costs a few milliseconds here, a DynamoDB Query a few
more). Not imported by the tests.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import CallCounter, api_stack, breakdown, table, title  # noqa: E402

MONTHS = 24
ENTRIES_PER_MONTH = 20
SINCE, UNTIL = 0, 253402300799
SEED_MONTHS = 10_000  # the seed's cap: months_back(until, 10_000)
QUICK_MONTHS = 500


# --------------------------------------------------------------------------- the seed's

def _seed_months(since: int, until: int, cap: int) -> list[str]:
    """The seed's _months_between: every month from until's back to since's (at most
    `cap`), whatever the trail holds."""
    from chalicelib.identity.audit import month_of
    year, month = map(int, month_of(until).split("-"))
    oldest, months = month_of(since), []
    for _ in range(cap):
        label = f"{year:04d}-{month:02d}"
        months.append(label)
        if label <= oldest:
            break
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


def seed_query(since: int, until: int, limit: int = 100, offset: int = 0,
               cap: int = SEED_MONTHS) -> dict:
    """The seed's query without filters: count every month, then read them again."""
    from chalicelib.identity.audit import to_json
    from chalicelib.store.tables import AuditEntry
    months = _seed_months(since, until, cap)
    key_range = AuditEntry.sort_key.between(f"{since:010d}#", f"{until:010d}#~")
    total = sum(AuditEntry.count(m, key_range) for m in months)
    entries, i = [], 0
    if offset < total:
        for m in months:
            for entry in AuditEntry.query(m, key_range, scan_index_forward=False,
                                          page_size=500):
                if i >= offset + limit:
                    break
                if i >= offset:
                    entries.append(to_json(entry))
                i += 1
            if i >= offset + limit:
                break
    return {"entries": entries, "total_count": total}


# --------------------------------------------------------------------------- the trail

def write_trail() -> int:
    """ENTRIES_PER_MONTH entries in each of the last MONTHS months (oldest first)."""
    from chalicelib.core import clock
    from chalicelib.identity import audit
    from chalicelib.identity.principal import Origin, Principal
    actor = Principal(subject="bench@example.com", kind="operator")
    now = clock.now_int()
    written = 0
    for back in range(MONTHS - 1, -1, -1):
        for i in range(ENTRIES_PER_MONTH):
            ts = now - back * 30 * 86400 - i * 3600
            clock.advance(ts - clock.now_int())
            audit.record(actor, "config_updated", f"target-{back}-{i}", {"i": i},
                         Origin(ip_address="10.0.0.1", user_agent="bench"))
            written += 1
    clock.reset()
    return written


# --------------------------------------------------------------------------- measuring

def measure(counter: CallCounter, fn):
    counter.take()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return result, counter.take(), seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"run the seed's algorithm over {QUICK_MONTHS} months and scale")
    args = parser.parse_args(argv)

    from chalicelib.identity import audit
    query = f"?since={SINCE}&until={UNTIL}"
    rows = []
    with api_stack() as stack, CallCounter() as counter:
        written = write_trail()
        token = stack.token_with(["view_audit"])
        stack.call("GET", "/admin/v1/audit", token)  # warm: secrets, admin list
        months = len(audit._months_between(SINCE, UNTIL))

        cap = QUICK_MONTHS if args.quick else SEED_MONTHS
        print(f"seed's algorithm over {cap} months ...", file=sys.stderr, flush=True)
        seed, calls, seconds = measure(counter, lambda: seed_query(SINCE, UNTIL, cap=cap))
        scale = SEED_MONTHS / cap
        mark = "~" if scale != 1 else ""
        trips = sum(calls.values())
        rows.append(("before: seed's query (audit.py as seeded)",
                     f"{mark}{round(trips * scale):,}", f"{mark}{seconds * scale:,.1f}",
                     seed["total_count"], len(seed["entries"]),
                     breakdown(calls) if scale == 1 else f"{mark}Query {round(trips * scale):,}"))

        after, calls, seconds = measure(counter, lambda: audit.query(SINCE, UNTIL))
        rows.append(("after: audit.query", sum(calls.values()), f"{seconds:.3f}",
                     after["total_count"], len(after["entries"]), breakdown(calls)))

        answer, calls, seconds = measure(counter, lambda: stack.call("GET", "/admin/v1/audit"
                                                                     + query, token))
        assert answer.status == 200, answer
        rows.append(("after: GET /admin/v1/audit (whole request)", sum(calls.values()),
                     f"{seconds:.3f}", answer.json["total_count"], len(answer.json["entries"]),
                     breakdown(calls)))

        page = f"{query}&offset={written - 50}&limit=100"
        answer, calls, seconds = measure(counter, lambda: stack.call("GET", "/admin/v1/audit"
                                                                     + page, token))
        rows.append(("after: the same, last page (offset written-50)", sum(calls.values()),
                     f"{seconds:.3f}", answer.json["total_count"], len(answer.json["entries"]),
                     breakdown(calls)))

        # until=now: the seed's months reach the trail, so it counts every month back to
        # 1970 and then reads them again up to the page (the last page: all of them)
        from chalicelib.core import clock
        now = clock.now_int()
        seed, calls, seconds = measure(counter, lambda: seed_query(SINCE, now,
                                                                   offset=written - 50))
        rows.append((f"before: seed's, until=now, offset={written - 50}", sum(calls.values()),
                     f"{seconds:.3f}", seed["total_count"], len(seed["entries"]),
                     breakdown(calls)))
        after, calls, seconds = measure(counter, lambda: audit.query(SINCE, now,
                                                                     offset=written - 50))
        rows.append((f"after: audit.query, until=now, offset={written - 50}",
                     sum(calls.values()), f"{seconds:.3f}", after["total_count"],
                     len(after["entries"]), breakdown(calls)))

        answer, calls, seconds = measure(counter, lambda: stack.call(
            "GET", "/admin/v1/audit/export" + query + "&format=json", token))
        rows.append(("after: GET /admin/v1/audit/export (json)", sum(calls.values()),
                     f"{seconds:.3f}", None, answer.json["count"], breakdown(calls)))

    title(f"Audit query since={SINCE}&until={UNTIL}: {written} entries over {MONTHS} months "
          f"({months} months between the first and last recorded)")
    print(table(["query", "round trips", "seconds", "total_count", "entries", "calls"],
                rows, right=(1, 2, 3, 4)))
    print()
    print("seconds: in-process against moto, not AWS latency. The seed's answer for this "
          "range is empty: its 10,000 months end in year 9166.")


if __name__ == "__main__":
    main()
