"""Our event store side by side with the peer a user would pick instead: the
`eventsourcing` library with its DynamoDB persistence (`eventsourcing-dynamodb`), against
the same moto (in-process mock_aws), the same aggregate, in the same run, alternating.

    python -m bench.event_store_peer                # 6 rounds x 100 appends per side
    python -m bench.event_store_peer --rounds 2 --appends 50

The aggregate is ORDER_SPEC's `order` on both sides: `created` sets customer, status and
total; `item_added` appends {sku, qty} to items and adds qty to count; `closed` sets the
status. Ours: chalicelib.platform.events.service (append, read) with a write key of a
warm container, no HTTP layer and no rate limiter (bench/data_plane.py has the route's
figures). The peer: an eventsourcing Application whose Order aggregate has the same
three events, persisted by eventsourcing-dynamodb into a table (originator_id,
originator_version) of the same moto.

1. Appends: rounds alternate which side goes first; each round appends N item_added
   events one at a time to one warm aggregate per side (ours: its head cached in the
   container; the peer: the aggregate object kept in memory, `app.save(order)` per event,
   the library's documented usage). Twice: with moto as it is (its TransactWriteItems
   deep-copies every table it touches, as a rollback backup) and with
   local/moto_server.cheap_transaction_rollback() (backs up only the items named, what
   `make run` runs).
2. Cost per append on DynamoDB's terms (bench/dynamo_cost.py): calls, write units.
3. Read of a 500-event aggregate: ours reads the head (and, for a state past 8 KB, the
   snapshot and the events after it); the peer's repository.get queries every event and
   replays them.
4. What an append guarantees, each line checked here where it can be."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import breakdown, table, title  # noqa: E402
from bench.dynamo_cost import Units, totals  # noqa: E402

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
PEER_TABLE = "peer-eventsourcing-events"
READ_EVENTS = 500
READS = 20


try:   # benchmark-only dependencies (requirements-dev.txt)
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Order(Aggregate):
        """ORDER_SPEC's order, as the peer's aggregate."""

        @event("Created")
        def __init__(self, customer: str, total: int):
            self.customer, self.status, self.total = customer, "open", total
            self.items, self.count = [], 0

        @event("ItemAdded")
        def add_item(self, sku: str, qty: int):
            self.items.append({"sku": sku, "qty": qty})
            self.count += qty

        @event("Closed")
        def close(self):
            self.status = "closed"

    class Orders(Application):
        pass
except ImportError:     # main() says what to install
    Order = Orders = None


def _missing_peer() -> str | None:
    """Why the peer cannot run, or None."""
    try:
        import eventsourcing_dynamodb  # noqa: F401 - the persistence module peer_app names
    except ImportError:
        return "eventsourcing-dynamodb"
    return "eventsourcing" if Order is None else None


def peer_app(snapshotting: bool = False):
    env = {"PERSISTENCE_MODULE": "eventsourcing_dynamodb", "DYNAMO_TABLE": PEER_TABLE}
    if snapshotting:
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
    return Orders(env=env)


def create_peer_table() -> None:
    from chalicelib.store import aws
    aws.client("dynamodb").create_table(
        TableName=PEER_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "originator_id", "KeyType": "HASH"},
                   {"AttributeName": "originator_version", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "originator_id", "AttributeType": "S"},
                              {"AttributeName": "originator_version", "AttributeType": "N"}])


# --------------------------------------------------------------------------- the two sides

class Ours:
    name = "ours (chalicelib event store)"

    def __init__(self, key, agg_id: str):
        from chalicelib.platform.events import service as event_store
        self.es, self.key, self.agg_id, self.n = event_store, key, agg_id, 0
        self.append([("created", {"customer": "C00000001", "total": 1})])

    def append(self, events, expected=None):
        self.n += 1
        return self.es.append(self.key, "order", self.agg_id, [
            {"event_type": t, "data": d, "metadata": ACTOR} for t, d in events],
            expected, None, f"r{self.n}")

    def add_item(self, i: int):
        self.append([("item_added", {"sku": f"sku-{i}", "qty": 1})])

    def read(self):
        return self.es.read(self.key, "order", self.agg_id)["data"]


class Peer:
    name = "peer (eventsourcing + eventsourcing-dynamodb)"

    def __init__(self, app):
        self.app = app
        self.order = Order("C00000001", 1)
        app.save(self.order)

    def add_item(self, i: int):
        self.order.add_item(f"sku-{i}", 1)
        self.app.save(self.order)

    def read(self):
        return self.app.repository.get(self.order.id)


def _spec_refresh():
    from chalicelib.store import specs
    from bench.event_store import ENV, INSTANCE
    specs.current(INSTANCE, ENV)   # the spec is cached 10 s: refreshed outside the timing


def appends_round(side, start: int, n: int) -> tuple[float, list]:
    _spec_refresh()
    samples = []
    began = time.perf_counter()
    for i in range(start, start + n):
        t = time.perf_counter()
        side.add_item(i)
        samples.append(time.perf_counter() - t)
    return time.perf_counter() - began, samples


# --------------------------------------------------------------------------- phases

def bench_appends(rounds: int, n: int, label: str) -> dict:
    """Alternating rounds on one fresh account; the rates, and the cost of one round."""
    from bench.event_store import fresh_store
    out = {"label": label}
    with fresh_store() as key:
        create_peer_table()
        sides = {"ours": Ours(key, "0RDER0001"), "peer": Peer(peer_app())}
        rates = {"ours": [], "peer": []}
        medians = {"ours": [], "peer": []}
        # warm-up, uncounted
        for side in sides.values():
            appends_round(side, 0, 5)
        at = 10
        for r in range(rounds):
            order = ("ours", "peer") if r % 2 == 0 else ("peer", "ours")
            for name in order:
                seconds, samples = appends_round(sides[name], at, n)
                rates[name].append(n / seconds)
                medians[name].append(statistics.median(samples))
            at += n
        # the cost, measured on one more round each (recording slows the calls down)
        costs = {}
        for name, side in sides.items():
            _spec_refresh()
            with Units() as units:
                units.take()
                for i in range(at, at + n):
                    side.add_item(i)
                calls = units.take()
                costs[name] = totals(calls)
                costs[name]["largest"] = max((w.size for c in calls for w in c.writes),
                                             default=0)
        out.update(rates=rates, medians=medians, costs=costs, n=n, rounds=rounds)
    return out


def bench_reads() -> dict:
    """A 500-event aggregate on each side; time and cost of reading its state."""
    from bench.event_store import fresh_store
    with fresh_store() as key:
        create_peer_table()
        ours = Ours(key, "0RDER0500")
        for start in range(1, READ_EVENTS, 25):     # batches of 25: one transaction each
            ours.append([("item_added", {"sku": f"sku-{i}", "qty": 1})
                         for i in range(start, min(start + 25, READ_EVENTS))])
        app = peer_app()
        peer = Peer(app)
        for i in range(1, READ_EVENTS):
            peer.order.add_item(f"sku-{i}", 1)
        app.save(peer.order)                        # one save: BatchWriteItem x 20
        state = ours.read()
        got = peer.read()
        if state["count"] != got.count or len(state["items"]) != len(got.items) != 499:
            raise SystemExit(f"bench: the two states differ: {state['count']} vs {got.count}")
        if got.version != READ_EVENTS:
            raise SystemExit(f"bench: the peer's aggregate has version {got.version}")
        ours.es.clear_cache()
        out = {}
        times = {"ours": [], "peer": []}
        for r in range(READS):
            for name, side in (("ours", ours), ("peer", peer)) if r % 2 == 0 else (
                    ("peer", peer), ("ours", ours)):
                t = time.perf_counter()
                side.read()
                times[name].append(time.perf_counter() - t)
        for name, side in (("ours", ours), ("peer", peer)):
            with Units() as units:
                side.read()
                out[name] = totals(units.take())
            out[name]["median_s"] = statistics.median(times[name])
        return out


# --------------------------------------------------------------------------- guarantees

def check_guarantees() -> dict:
    """What each side does with a stale writer, a multi-event write, a hash chain and
    stored state, observed on moto."""
    from chalicelib.core.errors import AppError
    from chalicelib.store.tables import StoredEvent
    from bench.event_store import fresh_store
    seen = {}
    with fresh_store() as key:
        create_peer_table()
        # optimistic concurrency: two writers that both read length/version L
        ours = Ours(key, "0RDER0002")
        length = 1
        ours.append([("item_added", {"sku": "A", "qty": 1})], expected=length)
        try:
            ours.append([("item_added", {"sku": "B", "qty": 1})], expected=length)
            seen["ours_stale"] = "ACCEPTED"
        except AppError as exc:
            seen["ours_stale"] = f"refused ({exc.status} {exc.kind.name})"
        app = peer_app()
        peer = Peer(app)
        a = app.repository.get(peer.order.id)
        b = app.repository.get(peer.order.id)
        a.add_item("A", 1)
        b.add_item("B", 1)
        app.save(a)
        try:
            app.save(b)
            after = app.repository.get(peer.order.id)
            skus = [item["sku"] for item in after.items]
            seen["peer_stale"] = ("accepted: the stream holds " + ", ".join(skus) +
                                  f" at version {after.version}; A was overwritten"
                                  if "A" not in skus else "accepted; both kept")
        except Exception as exc:  # noqa: BLE001 - whatever the library raises
            seen["peer_stale"] = f"refused ({type(exc).__name__})"

        # a multi-event write: calls it takes
        with Units() as units:
            ours.append([("item_added", {"sku": f"m{i}", "qty": 1}) for i in range(25)])
            seen["ours_batch"] = totals(units.take())
            for i in range(30):
                peer.order.add_item(f"m{i}", 1)
            app.save(peer.order)
            seen["peer_batch"] = totals(units.take())

        # hash chain: ours stores content and chain hashes on every event
        from chalicelib.platform.integrity import service as integrity
        stream = ours.es._stream(key, "order", "0RDER0002")
        chain = integrity.verify_chain(stream, "order", "0RDER0002")
        seen["ours_chain"] = f"verify-chain valid={chain['valid']} over {chain['checked']} events"
        event = StoredEvent.get(stream, 0)
        seen["ours_event_fields"] = bool(event.content_hash and event.chain_hash)
        seen["peer_item_fields"] = sorted(_peer_item_fields(str(peer.order.id)))

        # the peer's snapshots (its way to avoid replaying a long stream)
        seen["peer_snapshots"] = _peer_snapshots()
    return seen


def _peer_item_fields(originator_id: str) -> set:
    from chalicelib.store import aws
    items = aws.client("dynamodb").query(
        TableName=PEER_TABLE, KeyConditionExpression="originator_id = :id",
        ExpressionAttributeValues={":id": {"S": originator_id}}, Limit=1)["Items"]
    return set(items[0]) if items else set()


def _peer_snapshots() -> str:
    app = peer_app(snapshotting=True)
    order = Order("C00000009", 1)
    for i in range(5):
        order.add_item(f"s{i}", 1)
    app.save(order)
    try:
        app.take_snapshot(order.id)
        app.repository.get(order.id)
        return "worked"
    except Exception as exc:  # noqa: BLE001 - what the library raises is the finding
        return f"fail ({type(exc).__name__} on read)"


# --------------------------------------------------------------------------- report

def _rate_cells(res: dict, name: str) -> list:
    rates = res["rates"][name]
    return [f"{statistics.median(rates):,.0f}", f"{min(rates):,.0f}-{max(rates):,.0f}",
            f"{statistics.median(res['medians'][name]) * 1000:.2f}"]


def report(phases: list, reads: dict, seen: dict) -> None:
    n, rounds = phases[0]["n"], phases[0]["rounds"]
    title(f"1. Appends, one warm aggregate per side, alternating rounds "
          f"({rounds} x {n} item_added each, moto in-process)")
    rows = []
    for res in phases:
        for name, label in (("ours", Ours.name), ("peer", Peer.name)):
            rows.append([res["label"], label] + _rate_cells(res, name))
        ratio = (statistics.median(res["rates"]["peer"]) /
                 statistics.median(res["rates"]["ours"]))
        rows.append([res["label"], "  peer / ours", f"{ratio:.1f}x", "", ""])
    print(table(["moto", "side", "appends/s (median)", "min-max of rounds",
                 "median ms/append"], rows, right=(2, 3, 4)))

    title("2. Cost per append on DynamoDB's terms (one more round each, recorded)")
    rows = []
    for res in phases:
        for name, label in (("ours", Ours.name), ("peer", Peer.name)):
            c = res["costs"][name]
            rows.append([res["label"], label, f"{c['n_calls'] / n:.2f}",
                         breakdown({("dynamodb", op): k for op, k in c["calls"].items()}),
                         f"{c['wcu'] / n:.1f}", f"{c['wcu_tx'] / n:.1f}",
                         f"{c['wcu_index'] / n:.1f}", f"{c['wcu_plain'] / n:.1f}",
                         f"{c['largest']:,}"])
    print(table(["moto", "side", "calls/append", f"calls over {n} appends", "WCU/append",
                 "in tx (x2)", "GSI", "plain", "largest item B"], rows,
                right=(2, 4, 5, 6, 7, 8)))
    print("\nOur item_added handler appends to the state's items, so our state grows with "
          "the stream\n(a state past 8 KB leaves the head for snapshots: bench/write_cost.py "
          "shows the cost by state size).")

    title(f"3. Read of a {READ_EVENTS}-event aggregate's state (median of {READS} each, "
          "alternating)")
    rows = []
    ours_calls = breakdown({("dynamodb", op): k for op, k in reads["ours"]["calls"].items()})
    ours_how = (f"{ours_calls}: the head; its state past 8 KB from a snapshot plus the "
                "events after it; consistent" if "Query" in reads["ours"]["calls"] else
                f"{ours_calls}: the head carries the folded state; consistent")
    for name, label, how in (
            ("ours", Ours.name, ours_how),
            ("peer", Peer.name, "Query of every event (eventually consistent), replayed")):
        r = reads[name]
        rows.append([label, f"{r['median_s'] * 1000:.2f}", r["n_calls"], r["items_read"],
                     f"{r['bytes_read']:,}", f"{r['rcu']:g}", how])
    ratio = reads["peer"]["median_s"] / reads["ours"]["median_s"]
    print(table(["side", "median ms", "calls", "items read", "bytes read", "RCU", "how"],
                rows, right=(1, 2, 3, 4, 5)))
    print(f"\nours reads the state {ratio:.0f}x faster here, reading "
          f"{reads['peer']['items_read'] / max(1, reads['ours']['items_read']):.0f}x fewer items")

    title("4. What one append guarantees (observed here where marked)")
    ob, pb = seen["ours_batch"], seen["peer_batch"]
    rows = [
        ["optimistic concurrency",
         f"yes: the head's write is conditional on the length read; a second writer "
         f"naming the same previous_length: {seen['ours_stale']} (observed); without it, "
         "the loser re-reads and retries (tests/e2e/test_concurrent_appends.py)",
         "in memory only: the aggregate checks its own version, the recorder's put is "
         f"unconditional; two writers from the same version: {seen['peer_stale']} "
         "(observed)"],
        ["atomic multi-item write",
         f"yes: event(s), head, Merkle tiles and counters in one TransactWriteItems "
         f"(a 25-event batch: {breakdown({('dynamodb', k): v for k, v in ob['calls'].items()})}"
         ", observed)",
         "no: BatchWriteItem, 25 items per call, not all-or-nothing (a 30-event save: "
         f"{breakdown({('dynamodb', k): v for k, v in pb['calls'].items()})}, observed)"],
        ["hash chain",
         f"yes: content and chain hash on every event, RFC 6962 Merkle tiles; "
         f"{seen['ours_chain']} (observed)",
         "no: an item holds " + ", ".join(seen["peer_item_fields"]) + " (observed)"],
        ["stored state",
         "yes: the folded state, in the head (past 8 KB: a snapshot every max(32, size in "
         f"KB) events, plus the events after it); a read: {ours_calls} (table 3)",
         "no: every read replays the stream (table 3); snapshots with "
         f"eventsourcing-dynamodb: {seen['peer_snapshots']} (observed: its factory gives "
         "snapshots the events' own table and key)"],
    ]
    print(table(["guarantee", "ours", "peer"], rows))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--appends", type=int, default=100, help="appends per side per round")
    args = parser.parse_args(argv)
    missing = _missing_peer()
    if missing:
        print(f"\nbench.event_store_peer: {missing} is not installed; `make` installs "
              "requirements-dev.txt (eventsourcing, eventsourcing-dynamodb). Skipped.")
        return 1
    from importlib.metadata import version
    started = time.perf_counter()
    print(f"peer: eventsourcing {version('eventsourcing')}, eventsourcing-dynamodb "
          f"{version('eventsourcing-dynamodb')}; moto {version('moto')}, boto3 "
          f"{version('boto3')}")
    from moto.dynamodb.models import DynamoDBBackend

    from local.moto_server import cheap_transaction_rollback
    phases = [bench_appends(args.rounds, args.appends, "as is")]
    original = DynamoDBBackend.transact_write_items
    cheap_transaction_rollback()
    try:
        phases.append(bench_appends(args.rounds, args.appends, "cheap rollback"))
        reads = bench_reads()
        seen = check_guarantees()
    finally:
        DynamoDBBackend.transact_write_items = original
    report(phases, reads, seen)
    print(f"""
Where moto distorts these figures:
- moto's TransactWriteItems deep-copies every table it touches as its rollback backup,
  so each of our appends costs time in proportion to the events stored so far (row 'as
  is'); DynamoDB's cost does not grow so. 'cheap rollback' backs up only the items the
  transaction names (local/moto_server.py, what `make run` uses): the fairer figure.
  The peer writes with BatchWriteItem, which moto does not copy.
- Everything runs in one process: each side's rate includes its own CPU (ours: schema
  check, tick handler, content and chain hash, Merkle nodes; the peer: its mapper and
  JSON) and moto's handling of the call, with no network. Against DynamoDB a network
  round trip (a few ms) would be added to both, shrinking the ratio; a
  TransactWriteItems also costs more server time than a BatchWriteItem there.
- Read units, write units and item sizes are DynamoDB's documented rules applied to the
  actual items (bench/dynamo_cost.py); moto computes no capacity of its own.
- Our appends here go through the service, without HTTP, authentication or the rate
  limiter (the route adds the limiter's counter to the transaction, and one UpdateItem:
  bench/write_cost.py).
- The peer is eventsourcing {version('eventsourcing')}: eventsourcing-dynamodb 0.1.0 requires
  eventsourcing >=9.3,<9.4, so 9.5.x cannot be installed beside it.

(peer bench took {time.perf_counter() - started:.1f} s)""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
