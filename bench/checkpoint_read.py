"""Reading a past state (`GET /data/{type}/{id}?at=`) of one long aggregate, without and
with a checkpoint: round trips, items read and time, side by side (moto, in-process).

    python -m bench.checkpoint_read [events]      (default 100000)

The stream is written straight into the tables with the data plane's own step
(store/streams.advance) and BatchWriteItem, so that 100,000 events take seconds, not
the hours 100,000 appends would; the reads are the data plane's own (events service)."""
from __future__ import annotations

import sys
import time
from types import SimpleNamespace

from bench.common import table, title

EVENTS = 100_000
TAIL = 10            # events written after the checkpoint
ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
AGG_ID = "C00000001"


class Reads:
    """AWS calls and the items DynamoDB returned, while installed."""

    def __enter__(self):
        from botocore.client import BaseClient
        self.calls, self.items = {}, 0
        original = self._original = BaseClient._make_api_call
        reads = self

        def counted(client, operation, params):
            answer = original(client, operation, params)
            reads.calls[operation] = reads.calls.get(operation, 0) + 1
            reads.items += int(answer.get("Count", 1 if answer.get("Item") else 0)
                               if isinstance(answer, dict) else 0)
            return answer
        BaseClient._make_api_call = counted
        return self

    def __exit__(self, *exc):
        from botocore.client import BaseClient
        BaseClient._make_api_call = self._original


def _write_stream(inst: str, n: int, start: float) -> str:
    from chalicelib.store.keys import scope_type_key, stream_key
    from chalicelib.store.streams import Head, advance, event_definition
    from chalicelib.store.tables import MerkleTile, StoredEvent
    from testing.specs import ORDER_SPEC
    stream = stream_key(inst, "prod", "customer", AGG_ID)
    head = Head(stream=stream, scope_type=scope_type_key(inst, "prod", "customer"))
    definition = event_definition(ORDER_SPEC, "customer", "ordered")
    tiles: dict = {}
    with StoredEvent.batch_write() as batch:
        for i in range(n):     # a busy customer: its state (a count) stays small
            step = advance(head, definition, "customer", AGG_ID, "ordered",
                           {"order": f"0RDER{i % 10000:04d}", "total": i % 97}, ACTOR,
                           round(start + i * 0.01, 3))
            batch.save(step.event)
            for tile, hashes in step.tiles.items():
                tiles.setdefault(tile, []).extend(hashes)
    with MerkleTile.batch_write() as batch:
        for tile, hashes in tiles.items():
            batch.save(MerkleTile(stream=stream, tile=tile, hashes=hashes))
    head.to_item().save()
    return stream


def run(n: int = EVENTS) -> list:
    from bench.common import api_stack
    from chalicelib.core import clock
    from chalicelib.identity import audit
    from chalicelib.identity.principal import Principal
    from chalicelib.platform.checkpoints import service as checkpoints
    from chalicelib.platform.events import service as event_store
    from testing.specs import ORDER_SPEC
    rows = []
    with api_stack() as stack:
        token = stack.operator_token()
        inst = stack.call("POST", "/api/instances", token, body={"name": "bench"}).json["id"]
        stack.call("POST", f"/api/instances/{inst}/spec", token,
                   body={"environment": "prod", "spec": ORDER_SPEC})
        start = clock.now() - n * 0.01 - 60
        began = time.perf_counter()
        _write_stream(inst, n, start)
        written = time.perf_counter() - began
        key = SimpleNamespace(instance_id=inst, environment="prod")
        at = start + (n - 1) * 0.01 + 1            # after every event

        def read(label):
            with Reads() as reads:
                began = time.perf_counter()
                answer = event_store.read(key, "customer", AGG_ID, at)
                took = time.perf_counter() - began
            rows.append([label, sum(reads.calls.values()), reads.items, f"{took * 1000:.0f}",
                         ", ".join(f"{op} {c}" for op, c in sorted(reads.calls.items()))])
            return answer

        without = read("without a checkpoint")
        act = audit.Act(Principal(subject="bench", kind="operator"), "checkpoint_created")
        began = time.perf_counter()
        checkpoints.create(act, inst, "prod", {"aggregate_type": "customer",
                                               "aggregate_id": AGG_ID, "length": n - TAIL})
        made = time.perf_counter() - began
        with_one = read(f"with a checkpoint {TAIL} events back")
        assert with_one == without, "the checkpoint changed the answer"
    print(f"stream of {n} events written in {written:.1f} s; checkpoint at {n - TAIL} "
          f"made in {made:.1f} s (folded from the first event)")
    return rows


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else EVENTS
    title(f"GET /data/customer/{{id}}?at= of a {n}-event aggregate (moto, in-process)")
    rows = run(n)
    print(table(["read", "AWS calls", "items read", "ms", "calls"], rows, right=(1, 2, 3)))
    ratio = rows[0][2] / max(rows[1][2], 1)
    print(f"\nitems read: {ratio:.0f}x fewer with the checkpoint (target: at least 50x)")


if __name__ == "__main__":
    main()
