"""Benchmark: the metrics' device numbers never scan the device table.
Run by `python -m bench.run` after its other tables (`--devices off` skips it,
`--devices only` runs it alone), or alone:

    python -m bench.device_metrics

7. Round trips: every AWS API call counted at botocore's BaseClient._make_api_call (which
   PynamoDB goes through) inside moto's mock_aws, with the API tests' setup (bench.run's
   api_stack: provision, bootstrap, chalice.test.Client), for 1,000 and for 100,000
   registered devices. The devices are bulk-loaded with Device.batch_write (ages spread
   over 30 days so every trust tier is populated, some verified, some blocked, some active
   in the last 24 h), then device_stats.rebuild() recomputes the counters once; both
   uncounted. The target: no Scan, and the same calls at 1k as at 100k. The `devices`
   section is checked once at 1k against a brute-force count over a Scan of the Device
   table, done outside the counted region.
"""
from __future__ import annotations

import random
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import CallCounter, api_stack, breakdown, table, title  # noqa: E402

SIZES = (1_000, 100_000)
CHECK_AT = 1_000           # the brute-force check runs at this size only
DAY = 86400
SPREAD = 30 * DAY          # first_seen uniform over the last 30 days
# the mix of the loaded devices (independent draws per device)
SHARE_VERIFIED = 0.10
SHARE_BLOCKED = 0.03
SHARE_NEVER_SEEN = 0.20    # no last_seen at all
SHARE_ACTIVE_24H = 0.35    # of those seen: last_seen within the last 24 h
SLOW_LOAD_SECONDS = 60


# --------------------------------------------------------------------------- moto

def _order(item):
    """moto's own sort key for Table.all_items, (hash_key, range_key) DynamoTypes, which
    compare by cast_value; here cast once per item (a key's type is fixed per table, so
    the order is the same)."""
    if item.range_key is not None:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return (item.hash_key.cast_value,)


@contextmanager
def fast_moto():
    """moto (5.x) answers a Query by sorting every item of the TABLE with DynamoType keys
    and testing each item of the partition against the key condition, and a Scan page by
    sorting the whole table again: each call costs O(table) or worse. With the ~260k
    counter items of 100k devices one GET /admin/v1/metrics (24 Queries) would take many
    minutes. While this is on, moto's in-memory Table, not the code under test, is made
    faster without changing any answer:
      - all_items() sorts by cast values computed once per item (the same order);
      - a Query on the table's own key (no index) starts from the items of its partition
        whose range key passes the key condition (moto then applies the same condition
        again, sorts, pages and projects as before).
    The requests, the AWS calls they make and their answers are unchanged; only moto's
    time per call drops. Index Queries are untouched."""
    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items

    def all_items(self):
        items = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        return sorted(items, key=_order)

    def query(self, hash_key, *args, **kwargs):
        # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        #             scan_index_forward, projection_expressions, index_name, ...)
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        comparison, bounds = args[0], args[1]
        candidates = list(self.items.get(hash_key, {}).values())
        if comparison:
            candidates = [i for i in candidates if i.range_key.compare(comparison, bounds)]
        candidates.sort(key=_order)
        self.all_items = lambda: candidates   # read by this one call only
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query, Table.all_items = query, all_items
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all


# --------------------------------------------------------------------------- loading

def _fake_devices(count: int, now: int, seed: int) -> list:
    """`count` Device records as the registry would hold them after months of use."""
    from chalicelib.core import settings
    from chalicelib.domain import devices as device_ids
    from chalicelib.store.tables import Device

    rng = random.Random(seed)
    server = settings.get().server_name
    out = []
    for _ in range(count):
        key = rng.randbytes(32)
        first_seen = now - rng.randrange(1, SPREAD)
        device = Device(device_address=device_ids.device_address(key, server),
                        public_key=key.hex(), first_seen=first_seen, trust_tier="new")
        if rng.random() >= SHARE_NEVER_SEEN:
            if rng.random() < SHARE_ACTIVE_24H or first_seen > now - DAY:
                device.last_seen = max(first_seen, now - rng.randrange(0, DAY))
            else:
                device.last_seen = rng.randint(first_seen, now - DAY - 1)
        if rng.random() < SHARE_VERIFIED:
            device.verified_at = rng.randint(first_seen, now)
            device.verified_by = "admin@example.com"
        if rng.random() < SHARE_BLOCKED:
            device.blocked_at = rng.randint(first_seen, now)
            device.block_reason = "spam"
            device.spam_reports = 5
        out.append(device)
    return out


@contextmanager
def op_seconds():
    """{operation: seconds spent in botocore + moto} for the AWS calls made inside."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    spent: Counter = Counter()

    def timed(client, operation_name, api_params):
        started = time.perf_counter()
        try:
            return original(client, operation_name, api_params)
        finally:
            spent[operation_name] += time.perf_counter() - started

    BaseClient._make_api_call = timed
    try:
        yield spent
    finally:
        BaseClient._make_api_call = original


def load(total: int) -> dict:
    """Bring the registry to `total` devices (bootstrap registered the admin device, the
    warm-up one more) with BatchWriteItem, then recompute every counter from the tables."""
    from chalicelib.core import clock
    from chalicelib.store import device_counters as device_stats
    from chalicelib.store.tables import Device

    existing = sum(1 for _ in Device.scan())
    now = clock.now_int()
    started = time.perf_counter()
    records = _fake_devices(total - existing, now, seed=total)
    made = time.perf_counter() - started
    started = time.perf_counter()
    with Device.batch_write() as batch:
        for device in records:
            batch.save(device)
    written = time.perf_counter() - started
    started = time.perf_counter()
    with op_seconds() as spent:
        rebuilt = device_stats.rebuild()
    rebuild_s = time.perf_counter() - started
    if rebuilt["devices"] != total:
        raise SystemExit(f"bench: rebuild counted {rebuilt['devices']} devices, not {total}")
    return {"written": len(records), "make_s": made, "write_s": written,
            "rebuild_s": rebuild_s, "rebuild_ops": dict(spent), "counters": rebuilt["counters"]}


# --------------------------------------------------------------------------- brute force

def brute_force(now: int, period_seconds: int) -> dict:
    """The seed's `devices` object from a Scan of every device (never on a request path)."""
    from chalicelib.chat.moderation import service as moderation
    from chalicelib.domain import trust
    from chalicelib.store.tables import Device

    cfg = moderation.trust_config()
    since = now - period_seconds
    tiers = Counter()
    total = active = new = 0
    for d in Device.scan():
        total += 1
        if d.last_seen is not None and int(d.last_seen) >= since:
            active += 1
        if int(d.first_seen) >= since:
            new += 1
        tiers[trust.tier(int(d.first_seen), now, verified=d.verified_at is not None,
                         blocked=d.blocked_at is not None, cfg=cfg)] += 1
    return {"total": total, "active_last_24h": active, "new_last_24h": new,
            "verified": tiers[trust.VERIFIED], "blocked": tiers[trust.BLOCKED],
            "by_trust_tier": {t: tiers[t] for t in trust.TIERS}}


def _check(label: str, got: dict, now: int, period_seconds: int) -> dict:
    expected = brute_force(now, period_seconds)
    if got != expected:
        raise SystemExit(f"bench: {label}: devices section differs from the brute-force "
                         f"count at {now}:\n  answered {got}\n  counted  {expected}")
    return expected


# --------------------------------------------------------------------------- measuring

ROWS = [
    # key, label, note
    ("metrics 24h cold", "GET /admin/v1/metrics?period=24h, storage cache cold",
     ("server.storage_used_gb: DescribeTable per table + ListObjectsV2 per bucket, "
      "cached 300 s per container")),
    ("metrics 24h", "GET /admin/v1/metrics?period=24h", ""),
    ("metrics 30d", "GET /admin/v1/metrics?period=30d", ""),
    ("export", "GET /admin/v1/metrics/export (prometheus)", "24h summary + all-time counters"),
    ("summary", "device_stats.devices_summary(86400)", "the devices section alone"),
    ("register", "POST /internal/devices (one more device)",
     "device + counter deltas in 1 transaction"),
]


def _expect(answer, status: int, label: str):
    if answer.status != status:
        raise SystemExit(f"bench: {label} answered {answer!r}, expected {status}")
    return answer


def bench_size(total: int) -> dict:
    from nacl.signing import SigningKey

    from chalicelib.chat.metrics import server_stats
    from chalicelib.core import clock
    from chalicelib.store import device_counters as device_stats

    info: dict = {"rows": {}}
    server_stats.clear_cache()
    with api_stack() as stack, CallCounter() as counter:
        token = stack.operator_token()
        stack.register_device(SigningKey(bytes([7] * 32)))  # warm-up of the route
        info["load"] = load(total)
        # warm-up of every measured path (secrets, config, rate counter items), uncounted
        for path in ("/admin/v1/metrics?period=24h", "/admin/v1/metrics?period=30d",
                     "/admin/v1/metrics/export"):
            _expect(stack.call("GET", path, token), 200, f"warm-up {path}")
        device_stats.devices_summary(DAY)
        counter.take()

        def measure(key, fn):
            counter.take()
            started = time.perf_counter()
            out = fn()
            seconds = time.perf_counter() - started
            calls = counter.take()
            info["rows"][key] = {"calls": sum(calls.values()), "ops": dict(calls),
                                 "breakdown": breakdown(calls), "ms": seconds * 1000}
            return out

        def get(path):
            return lambda: _expect(stack.call("GET", path, token), 200, path)

        server_stats.clear_cache()
        day = measure("metrics 24h cold", get("/admin/v1/metrics?period=24h")).json
        day = measure("metrics 24h", get("/admin/v1/metrics?period=24h")).json
        month = measure("metrics 30d", get("/admin/v1/metrics?period=30d")).json
        export = measure("export", get("/admin/v1/metrics/export")).text
        before = clock.now_int()
        summary = measure("summary", lambda: device_stats.devices_summary(DAY))
        after = clock.now_int()
        expected_total = total
        if day["devices"]["total"] != expected_total:
            raise SystemExit(f"bench: metrics answered {day['devices']['total']} devices, "
                             f"expected {expected_total}")
        if f"cryptid_devices_total {float(expected_total)}" not in export:
            raise SystemExit("bench: the export's cryptid_devices_total is not "
                             f"{expected_total}")
        info["devices"] = day["devices"]
        if total == CHECK_AT:   # uncounted: the counter is taken again before each measure
            _check("GET metrics 24h", day["devices"], day["timestamp"], DAY)
            _check("GET metrics 30d", month["devices"], month["timestamp"], 30 * DAY)
            if before == after:
                _check("devices_summary(86400)", summary, before, DAY)
            else:   # a second passed during the call: one of the two is its `now`
                try:
                    _check("devices_summary(86400)", summary, before, DAY)
                except SystemExit:
                    _check("devices_summary(86400)", summary, after, DAY)
            info["checked"] = True
        key = SigningKey(bytes([9] * 32))
        measure("register", lambda: _expect(stack.node(
            "POST", "/internal/devices", body={"public_key": key.verify_key.encode().hex()}),
            201, "POST /internal/devices"))
        counter.take()
        now_total = device_stats.devices_summary(DAY)["total"]
        if now_total != expected_total + 1:
            raise SystemExit(f"bench: after registering one more device the total is "
                             f"{now_total}, expected {expected_total + 1}")
        if total == CHECK_AT:
            _check("devices_summary(86400) after the registration",
                   device_stats.devices_summary(DAY), clock.now_int(), DAY)
    server_stats.clear_cache()
    return info


def bench_device_metrics() -> dict:
    results = {}
    with fast_moto():
        for n in SIZES:
            started = time.perf_counter()
            results[n] = bench_size(n)
            results[n]["seconds"] = time.perf_counter() - started

    small, big = results[SIZES[0]], results[SIZES[1]]
    title("7. Metrics over the device registry: AWS round trips per call at 1k and 100k "
          "registered devices (moto, counted at botocore _make_api_call)")
    rows, missed = [], []
    for key, label, note in ROWS:
        a, b = small["rows"][key], big["rows"][key]
        scans = [n for n in SIZES if any(op == "Scan" for _, op in results[n]["rows"][key]["ops"])]
        same = a["ops"] == b["ops"]
        verdict = "OK" if same and not scans else "MISSED"
        if scans:
            missed.append(f"{label}: Scan at {', '.join(f'{n:,}' for n in scans)}")
        if not same:
            missed.append(f"{label}: {a['calls']} calls at {SIZES[0]:,} "
                          f"({a['breakdown']}) but {b['calls']} at {SIZES[1]:,} "
                          f"({b['breakdown']})")
        rows.append([label, a["calls"], b["calls"],
                     a["breakdown"] if same else f"1k: {a['breakdown']}; 100k: {b['breakdown']}",
                     "no" if not scans else "YES", "same" if same else "DIFFERENT", verdict,
                     f"{a['ms']:.0f}", f"{b['ms']:.0f}", note])
    print(table(["call", "1k", "100k", "breakdown (DynamoDB unless named)", "Scan",
                 "1k vs 100k", "", "1k ms", "100k ms", "note"], rows,
                right=(1, 2, 7, 8)))

    def loaded(n):
        r = results[n]["load"]
        ops = r["rebuild_ops"]
        parts = ", ".join(f"{op} {ops[op]:.0f} s" for op in sorted(ops, key=lambda o: -ops[o])
                          if ops[op] >= 0.5)
        whole = r["write_s"] + r["rebuild_s"]
        slow = f"  ({whole:.0f} s: MORE THAN ~{SLOW_LOAD_SECONDS} s)" \
            if whole > SLOW_LOAD_SECONDS else ""
        return (f"{n:>7,} devices: {r['written']:,} Device items batch-written in "
                f"{r['write_s']:.1f} s, then rebuild() {r['rebuild_s']:.1f} s{slow}\n"
                f"           -> {r['counters']:,} counter items; rebuild's time in moto: "
                f"{parts or '-'}; this size took {results[n]['seconds']:.0f} s in all")

    def devices(n):
        d = results[n]["devices"]
        tiers = d["by_trust_tier"]
        return (f"{n:>7,}: total {d['total']:,}, active 24h {d['active_last_24h']:,}, new 24h "
                f"{d['new_last_24h']:,}, verified {d['verified']:,}, blocked "
                f"{d['blocked']:,}; tiers new {tiers['new']:,} / established "
                f"{tiers['established']:,} / trusted {tiers['trusted']:,} / verified "
                f"{tiers['verified']:,}")

    checked = "" if small.get("checked") else " (NOT DONE)"
    print(f"""
Loaded, uncounted (bootstrap's admin device and one warm-up registration are part of each
size, so the registry holds exactly 1,000 / 100,000 devices when measured):
  {loaded(SIZES[0])}
  {loaded(SIZES[1])}
The devices section of GET /admin/v1/metrics?period=24h:
  {devices(SIZES[0])}
  {devices(SIZES[1])}
Checked at {CHECK_AT:,}{checked}: the devices section of GET metrics 24h and 30d (at each answer's
own timestamp) and devices_summary(86400), before and after the registration, equal a
brute-force count over a Scan of the Device table (trust.tier per device) made outside the
counted region. At both sizes the total and the export's cryptid_devices_total are the
registry's size, and the registration adds exactly 1.
Every row is warm (one uncounted pass of each path first) except the first, which clears
the per-container storage-size cache first. 'ms' is in-process against moto, NOT AWS
latency: moto's TransactWriteItems deep-copies every table it touches (Device and Counter
for a registration), so that row slows with the tables in moto only. moto's Query and
Scan sort the whole table on every call; bench.device_metrics.fast_moto makes that sort
cheap and starts a key Query from its partition (same answers, same calls), or one
metrics request at 100k would take many minutes; moto still tests every item of that
partition (a second-bucket histogram holds ~80k items at 100k devices), where DynamoDB
reads only the key range, hence the 100k ms. Scan answers are slow to serialise in moto
(~0.5 ms per item), hence rebuild()'s time.""")
    for n in SIZES:
        r = results[n]["load"]
        whole = r["write_s"] + r["rebuild_s"]
        if whole > SLOW_LOAD_SECONDS:
            print(f"SLOW: loading {n:,} devices took {whole:.0f} s (batch_write "
                  f"{r['write_s']:.0f} s + rebuild {r['rebuild_s']:.0f} s), more than "
                  f"~{SLOW_LOAD_SECONDS} s")
    for line in missed:
        print(f"MISSED: {line}")
    if not missed:
        print("No Scan in any measured call; every call's round trips at 1k equal those at "
              "100k: OK")
    return results


def run_all() -> None:
    bench_device_metrics()


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    started = time.perf_counter()
    run_all()
    print(f"\n(device-metrics bench took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
