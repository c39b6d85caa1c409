"""Write cost of an append on DynamoDB's own terms, at folded-state sizes of 1 KB, 10 KB
and 100 KB, with the read cost of a state read beside it.

    python -m bench.write_cost                 # 256 appends per state size
    python -m bench.write_cost --appends 32    # quicker, less even over the Merkle tile

Through the data plane's route (`POST /data/order/{id}/closed`, the API tests' stack:
chalice.test.Client on moto's in-process mock), one `order` aggregate per size: a
`created`, then batches of `item_added` with 100-character skus until its folded state
(canonical JSON) reaches the size, then the measured appends: `closed` events, whose
handler only sets `status`, so the state keeps its size while they are measured. 256
appends cover every slot of a Merkle tile (TILE_WIDTH hashes) a whole number of times, so
their mean is the long-run cost per append whatever the stream's length.

Units are computed by bench/dynamo_cost.py from the serialized requests and the items
moto stores before and after each call: item sizes rounded up to 1 KB per write unit,
doubled inside TransactWriteItems, the larger of the item before and after a write, and
the GSI entry a write of a head adds (the streams table's by_scope_type index projects
every attribute). A state read is what GET /data/order/{id} reads (the head, and a state
kept outside it): ceil(size / 4 KB) read units per item, consistent. moto computes no
capacity of its own; these are DynamoDB's documented rules applied to the actual items,
not a measurement of a DynamoDB bill."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import api_stack, table, title  # noqa: E402
from bench.dynamo_cost import KB, Units, totals  # noqa: E402

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
SIZES = ((1 * KB, "0RDER001K"), (10 * KB, "0RDER010K"), (100 * KB, "0RDER100K"))
SKU_CHARS = 100
BATCH = 25


def _canonical_size(state) -> int:
    from chalicelib.domain import events as ev
    return len(ev.canonical(state))


class Plane:
    """The data plane through its routes, with one write key on a `scale` instance."""

    def __init__(self, stack):
        from testing.specs import ORDER_SPEC
        self.stack = stack
        token = stack.operator_token()
        inst = stack.call("POST", "/api/instances", token,
                          body={"name": "bench", "plan": "scale"}).json["id"]
        deployed = stack.call("POST", f"/api/instances/{inst}/spec", token,
                              body={"environment": "prod", "spec": ORDER_SPEC})
        assert deployed.status in (200, 201), deployed
        key = stack.call("POST", f"/api/instances/{inst}/keys", token, body={
            "name": "w", "scope": "write", "environment": "prod"}).json["key"]
        self.auth = {"Authorization": f"Bearer {key}"}

    def post(self, path, body, status=201):
        answer = self.stack.call("POST", "/data" + path, body=body, headers=self.auth)
        if answer.status != status:
            raise SystemExit(f"bench: POST /data{path} answered {answer}")
        return answer

    def state(self, agg_id):
        answer = self.stack.call("GET", f"/data/order/{agg_id}", headers=self.auth)
        if answer.status != 200:
            raise SystemExit(f"bench: GET /data/order/{agg_id} answered {answer}")
        return answer.json


def grow(plane: Plane, agg_id: str, target: int) -> dict:
    """The aggregate with a folded state of about `target` bytes of canonical JSON."""
    plane.post(f"/order/{agg_id}/created", {"data": {"customer": "C00000001", "total": 1},
                                            "metadata": ACTOR})
    sku = "s" * SKU_CHARS
    per_item = _canonical_size({"items": [{"qty": 1, "sku": sku}] * 2}) - _canonical_size(
        {"items": [{"qty": 1, "sku": sku}]})
    current = _canonical_size(plane.state(agg_id)["data"])
    # one item_added also adds "count" (and "items" the first time): stop a little short
    needed = max(0, (target - current - 24) // per_item)
    while needed > 0:
        n = min(BATCH, needed)
        plane.post(f"/order/{agg_id}", {"events": [
            {"type": "item_added", "data": {"sku": sku, "qty": 1}} for _ in range(n)],
            "metadata": ACTOR})
        needed -= n
    return plane.state(agg_id)


ROLES = (  # (label, table, index): the parts of an append's write cost
    ("head", "streams", None),
    ("head in the GSI", "streams", "by_scope_type"),
    ("state snapshot", "state_snapshots", None),
    ("event", "events", None),
    ("Merkle tiles", "merkle_tiles", None),
    ("type + usage counters", "event_type_counts", None),
    ("rate counters", "rate_counters", None),
)


def measure(plane: Plane, agg_id: str, appends: int) -> dict:
    per_append = []
    parts = defaultdict(list)       # role -> units per append
    sizes = defaultdict(list)       # role -> item sizes
    tx_items = []
    seconds = []
    plane.post(f"/order/{agg_id}/closed", {"data": {"seq": 0}, "metadata": ACTOR})  # warm
    with Units() as units:
        units.take()
        for i in range(1, appends + 1):
            started = time.perf_counter()
            plane.post(f"/order/{agg_id}/closed", {"data": {"seq": i}, "metadata": ACTOR})
            seconds.append(time.perf_counter() - started)
            calls = units.take()
            got = totals(calls)
            per_append.append(got)
            tx_items.append(sum(1 for c in calls for w in c.writes
                                if w.in_transaction and not w.index))
            spent = defaultdict(float)
            for call in calls:
                for w in call.writes:
                    role = next((label for label, tbl, idx in ROLES
                                 if tbl == w.table and idx == w.index), f"other ({w.table})")
                    where = "index" if w.index else ("tx" if w.in_transaction else "plain")
                    spent[(role, where)] += w.units
                    sizes[role].append(w.size)
            for key, value in spent.items():
                parts[key].append(value)
        units.take()
        state = plane.state(agg_id)
        read_calls = units.take()
    # the state read's own reads: the head, and a state kept outside it (snapshot + tail);
    # not the key check or the rate limiter's counters
    head_reads = [r for c in read_calls for r in c.reads
                  if r.table not in ("api_keys", "rate_counters")]
    read_ops = sorted({c.operation for c in read_calls
                       for r in c.reads if r.table not in ("api_keys", "rate_counters")})
    return {"per_append": per_append, "parts": parts, "sizes": sizes, "tx_items": tx_items,
            "seconds": seconds, "state": state, "head_reads": head_reads,
            "read_calls": read_calls, "read_ops": read_ops, "appends": appends}


def _mean(xs) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def report(results: list) -> None:
    title("Write cost per append on DynamoDB's terms, by folded-state size "
          "(route POST /data/order/{id}/closed, moto in-process)")
    rows = []
    for target, agg_id, r in results:
        state_bytes = _canonical_size(r["state"]["data"])
        head = max(r["sizes"]["head"]) if r["sizes"]["head"] else 0
        wcu = [p["wcu"] for p in r["per_append"]]
        tx = [p["wcu_tx"] for p in r["per_append"]]
        rows.append([f"{target // KB} KB", f"{state_bytes:,}", f"{head:,}",
                     f"{_mean(r['tx_items']):.1f}", f"{_mean(tx):.1f}",
                     f"{_mean([p['wcu_index'] for p in r['per_append']]):.1f}",
                     f"{_mean([p['wcu_plain'] for p in r['per_append']]):.1f}",
                     f"{_mean(wcu):.1f}", f"{min(wcu):.0f}-{max(wcu):.0f}",
                     f"{sum(x.units for x in r['head_reads']):g}",
                     sum(x.items for x in r["head_reads"]),
                     f"{statistics.median(r['seconds']) * 1000:.1f}"])
    print(table(["state", "state bytes", "head item B", "tx items", "WCU in tx (x2)",
                 "WCU GSI", "WCU outside tx", "WCU/append", "min-max", "state read RCU",
                 "items read", "append ms (moto)"], rows,
                right=tuple(range(1, 12))))

    title("Where an append's write units go (mean per append; tx = inside the "
          "TransactWriteItems, doubled)")
    labels = []
    for _, _, r in results:
        for key in r["parts"]:
            if key not in labels:
                labels.append(key)
    order = {label: i for i, (label, _, _) in enumerate(ROLES)}
    labels.sort(key=lambda k: (order.get(k[0], 99), k[1]))
    rows = []
    for role, where in labels:
        cells = [role, where]
        for _, _, r in results:
            values = r["parts"].get((role, where), [])
            cells.append(f"{sum(values) / r['appends']:.1f}")
        sizes = [s for _, _, r in results for s in r["sizes"].get(role, [])]
        cells.append(f"{min(sizes):,}-{max(sizes):,}" if sizes else "")
        rows.append(cells)
    rows.append(["total", ""] + [f"{_mean([p['wcu'] for p in r['per_append']]):.1f}"
                                 for _, _, r in results] + [""])
    print(table(["item", "where"] + [f"{t // KB} KB state" for t, _, _ in results]
                + ["item sizes B (all runs)"], rows, right=(2, 3, 4)))

    big = results[-1][2]
    head_units = sum(big["parts"].get(("head", "tx"), [0])) / big["appends"]
    snap_units = sum(big["parts"].get(("state snapshot", "tx"), [0])) / big["appends"]
    big_state = _canonical_size(big["state"]["data"])
    big_head = max(big["sizes"]["head"])
    inline = big_head >= big_state
    tiles = [sum(r["parts"].get(("Merkle tiles", "tx"), [0])) / r["appends"]
             for _, _, r in results]
    appends = results[0][2]["appends"]
    from chalicelib.domain.merkle.tiles import TILE_WIDTH
    share = 100 * tiles[0] / _mean([p["wcu"] for p in results[0][2]["per_append"]])
    cycle = ("every slot of a level-0 tile" if appends >= TILE_WIDTH and
             appends % TILE_WIDTH == 0 else "not whole tiles: the tile figure depends on "
             "where the stream is")
    if inline:
        where = (f"The head item carries the whole folded state, so every append rewrites "
                 f"it: at a\n{big_state // KB} KB state the head alone costs {head_units:.0f} "
                 "write units per append inside the\ntransaction (2 x ceil(head size / 1 KB)), "
                 "plus the same head again in the by_scope_type\nGSI (it projects ALL "
                 "attributes; an index write is charged once, not doubled): the\nwrite cost "
                 "grows with the state.")
    else:
        where = (f"At {big_state // KB} KB the state is not in the head (largest head item "
                 f"{big_head:,} B): it lives in\nStateSnapshot items written every so many "
                 f"events, here {snap_units:.1f} write units per append\namortized (2 x "
                 "ceil(snapshot size / 1 KB) once per snapshot interval), the head\ncosts "
                 f"{head_units:.1f}: the write cost does not grow with the state. A read then "
                 "costs the\nhead, the snapshot and a Query of the events after it (at most "
                 "one interval).")
    ops = ", ".join(results[-1][2]["read_ops"])
    tile_max = max((x for _, _, r in results for x in r["sizes"].get("Merkle tiles", [])),
                   default=0)
    tile_units = " / ".join(f"{t:.1f}" for t in tiles)
    print(f"""
{where}
The Merkle tiles do not grow with the state: a level-0 tile gains one 64-character hash
per append, up to {TILE_WIDTH} of them (largest tile item here {tile_max:,} B), and is rewritten by
each append (the larger of before and after counts): {tile_units} units per
append, {share:.0f}% of an append's write units at the smallest state.
State read: GET /data/order/{{id}} after the appends ({ops} at the
largest state; the key check and rate counters left out), ceil(size / 4 KB) read units
per item (a Query: per 4 KB of all its items), consistent.
Outside the transaction: the instance's rate counter (one UpdateItem per request).
Means over {appends} appends per size ({cycle}); 'append ms'
is in-process against moto (its TransactWriteItems deep-copies the tables it touches),
not AWS latency.""")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=256,
                        help="measured appends per state size (256: whole Merkle tiles)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = []
    with api_stack() as stack:
        plane = Plane(stack)
        for target, agg_id in SIZES:
            grow(plane, agg_id, target)
            results.append((target, agg_id, measure(plane, agg_id, args.appends)))
    report(results)
    print(f"\n(write-cost bench took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
