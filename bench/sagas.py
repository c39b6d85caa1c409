"""AWS calls per saga step (moto, in-process; the API tests' stack).

    python -m bench.sagas               # 50 sagas
    python -m bench.sagas --sagas 200

A two-step saga: step 1 emits and awaits a reply, step 2 emits without an await. Each
phase is counted on its own, with every DynamoDB and SQS call botocore makes
(bench/common.CallCounter), divided by the sagas it served:

- trigger: the append of the trigger event, beside the same append of an event no saga
  names (the saga instance is one more item of the append's own TransactWriteItems;
  the SendMessage after it is the only extra call);
- step 1: the timers queue's consumer and the task (ReceiveMessage, the saga's read,
  the trigger event's read, the guarded append of the emit with the saga's update, the
  waiter and the audit entry, SendMessage of the timeout, DeleteMessage);
- reply: the append of the awaited event, beside one of an event no step awaits (one
  Query of the aggregate's waiters and an update in its own transaction, SendMessage);
- step 2: the task (the waiter's read, the transition, the waiter's deletion, then the
  second step's guarded emit, which completes the saga);
- sweep: the `saga_sweep` job when nothing is due."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import ItemCounter, api_stack, breakdown, per_call, table, title  # noqa: E402

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
_EVENT = {"schema": {"type": "object"}, "handler": []}
SPEC = {
    "aggregate_types": {
        "order": {"events": {"placed": _EVENT, "was_viewed": _EVENT,
                             "was_confirmed": _EVENT}},
        "stock": {"events": {"hold_requested": _EVENT, "was_held": _EVENT,
                             "was_counted": _EVENT}},
    },
    "agent_types": ["user"],
    "modules": {"sagas": {"fulfil": {
        "trigger": {"aggregate_type": "order", "event_type": "placed"},
        "steps": [
            {"name": "hold", "emit": {"aggregate_type": "stock", "id": "$.id",
                                      "event_type": "hold_requested"},
             "await": {"aggregate_type": "stock", "event_types": ["was_held"]},
             "timeout_ms": 60000},
            {"name": "confirm", "emit": {"aggregate_type": "order", "id": "$.id",
                                         "event_type": "was_confirmed"}}]}}},
}


class Plane:
    def __init__(self, stack):
        self.stack = stack
        token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", token,
                               body={"name": "bench", "plan": "scale"}).json["id"]
        answer = stack.call("POST", f"/api/instances/{self.inst}/spec", token,
                            body={"environment": "prod", "spec": SPEC})
        assert answer.status == 201, answer
        self.key = stack.call("POST", f"/api/instances/{self.inst}/keys", token,
                              body={"name": "w", "scope": "write",
                                    "environment": "prod"}).json["key"]

    def append(self, agg: str, agg_id: str, event: str):
        answer = self.stack.call("POST", f"/data/{agg}/{agg_id}/{event}",
                                 headers={"Authorization": f"Bearer {self.key}"},
                                 body={"data": {}, "metadata": ACTOR})
        assert answer.status == 201, answer


def ident(i: int) -> str:
    return f"A{i:08d}"


def counts(plane: Plane, n: int) -> list:
    from chalicelib import features
    from chalicelib.store.tables import SagaInstance
    from local import consumer
    rows = []
    with ItemCounter() as counter:
        for i in range(n):                      # warm: every head cached
            plane.append("order", ident(i), "was_viewed")
            plane.append("stock", ident(i), "was_counted")
        counter.take(), counter.take_items()
        for i in range(n):
            plane.append("order", ident(i), "was_viewed")
        rows.append(("append, no saga (baseline)", counter.take(), counter.take_items()))
        for i in range(n):
            plane.append("order", ident(i), "placed")
        rows.append(("trigger append (starts a saga)", counter.take(), counter.take_items()))
        handled = consumer.drain(queue="timers", max_messages=10 * n)
        rows.append((f"step 1: emit + await ({handled} messages)", counter.take(),
                     counter.take_items()))
        for i in range(n):
            plane.append("stock", ident(i), "was_counted")
        rows.append(("append, awaited by nobody (baseline)", counter.take(),
                     counter.take_items()))
        for i in range(n):
            plane.append("stock", ident(i), "was_held")
        rows.append(("reply append (an await's event)", counter.take(), counter.take_items()))
        handled = consumer.drain(queue="timers", max_messages=10 * n)
        rows.append((f"step 2: complete step 1, emit step 2 ({handled} messages)",
                     counter.take(), counter.take_items()))
        features.run("saga_sweep")
        rows.append(("saga_sweep, nothing due (per run)", counter.take(), counter.take_items(),
                     1))
    done = sum(1 for s in SagaInstance.scan() if s.status == "completed")
    assert done == n, f"{done} of {n} sagas completed"
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sagas", type=int, default=50)
    args = parser.parse_args(argv)
    n = args.sagas
    with api_stack() as stack:
        plane = Plane(stack)
        rows = counts(plane, n)
        title(f"AWS calls per saga ({n} two-step sagas, moto in-process)")
        out = []
        for row in rows:
            label, calls, items = row[:3]
            per = row[3] if len(row) > 3 else n
            out.append((label, f"{per_call(calls, per, 'dynamodb'):.2f}",
                        f"{per_call(calls, per, 'sqs'):.2f}", f"{items / per:.1f}",
                        breakdown(Counter({k: round(v / per, 2) for k, v in calls.items()}))))
        print(table(("phase (per saga)", "DynamoDB", "SQS", "tx items", "calls"), out,
                    right=(1, 2, 3)))
        ddb = (per_call(rows[1][1], n, "dynamodb") - per_call(rows[0][1], n, "dynamodb")
               + per_call(rows[2][1], n, "dynamodb")
               + per_call(rows[4][1], n, "dynamodb") - per_call(rows[3][1], n, "dynamodb")
               + per_call(rows[5][1], n, "dynamodb"))
        sqs = sum(per_call(rows[k][1], n, "sqs") for k in (1, 2, 4, 5))
        print(f"\na two-step saga beyond its own appends' baseline: {ddb:.2f} DynamoDB + "
              f"{sqs:.2f} SQS calls ({ddb / 2:.2f} + {sqs / 2:.2f} per step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
