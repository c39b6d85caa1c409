"""Listener deliveries: AWS calls per delivery and deliveries per second through the
timers queue, to a real HTTP receiver on loopback (moto in-process; the API tests' stack).

    python -m bench.deliveries                    # 100 counted, 300 timed
    python -m bench.deliveries --events 200 --timed 1000 --consumers 4

Counted, each phase on its own, with every DynamoDB and SQS call botocore makes
(bench/common.CallCounter), divided by the deliveries it served:

- the append: an event one listener subscribes to, beside the same append when no
  listener does: the delivery is one more item of the append's own TransactWriteItems,
  and its first message one SendMessage after the commit;
- a delivered attempt: the timers queue's consumer and the task (ReceiveMessage, the
  delivery's GetItem, the claim's UpdateItem, one TransactGetItems of the event and its
  stream head's erasure marker, the record's UpdateItem, DeleteMessage; the spec and the
  sealed secret come from the container's caches);
- a failed attempt that is retried (the receiver answers 500): the same, plus the
  SendMessage of the next attempt;
- the sweeper and cleanup jobs when they find nothing (per run).

Timed: `--timed` events appended first (their deliveries wait on the queue), then
`--consumers` threads poll the queue as `make run` does (local/consumer.py: one message
per receive, 0.25 s pause when empty) until every delivery is delivered; deliveries per
second = deliveries / wall time from the first receive to the last delivery."""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.env  # noqa: E402,F401 - sets the test environment before project imports
from bench.common import ItemCounter, api_stack, breakdown, per_call, table, title  # noqa: E402

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
_EVENT = {"schema": {"type": "object"}, "handler": []}
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def spec(url: str) -> dict:
    return {"aggregate_types": {"order": {"events": {"placed": _EVENT, "viewed": _EVENT}}},
            "agent_types": ["user"],
            "listeners": [{"name": "billing", "url": url, "secret": SECRET,
                           "events": [{"aggregate_type": "order", "event_type": "placed"}]}]}


class Plane:
    def __init__(self, stack, url: str):
        self.stack = stack
        token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", token,
                               body={"name": "bench", "plan": "scale"}).json["id"]
        answer = stack.call("POST", f"/api/instances/{self.inst}/spec", token,
                            body={"environment": "prod", "spec": spec(url)})
        assert answer.status == 201, answer
        self.key = stack.call("POST", f"/api/instances/{self.inst}/keys", token,
                              body={"name": "w", "scope": "write",
                                    "environment": "prod"}).json["key"]

    def append(self, order: str, event: str):
        answer = self.stack.call("POST", f"/data/order/{order}/{event}",
                                 headers={"Authorization": f"Bearer {self.key}"},
                                 body={"data": {"n": 1}, "metadata": ACTOR})
        assert answer.status == 201, answer


def order(i: int, base: str = "A") -> str:
    return f"{base}{i:08d}"


def counts(plane: Plane, receiver, n: int) -> list:
    from chalicelib import features
    from chalicelib.core import clock
    from local import consumer
    from testing.webhook_receiver import Answer
    rows = []
    with ItemCounter() as counter:
        for i in range(n):                       # warm: every head cached
            plane.append(order(i), "viewed")
            plane.append(order(i, "B"), "viewed")
        counter.take(), counter.take_items()
        for i in range(n):
            plane.append(order(i), "viewed")
        rows.append(("append, no listener wants it (baseline)", counter.take(),
                     counter.take_items(), n))
        for i in range(n):
            plane.append(order(i), "placed")
        rows.append(("append with one delivery", counter.take(), counter.take_items(), n))
        handled = consumer.drain(queue="timers", max_messages=10 * n)
        assert len(receiver.requests) == n, (len(receiver.requests), n)
        rows.append((f"attempt, delivered ({handled} messages)", counter.take(),
                     counter.take_items(), handled))
        receiver.default = Answer(500)
        for i in range(n):
            plane.append(order(i, "B"), "placed")
        counter.take(), counter.take_items()
        handled = consumer.drain(queue="timers", max_messages=n)
        rows.append((f"attempt, failed and retried ({handled} messages)", counter.take(),
                     counter.take_items(), handled))
        receiver.default = Answer(200)
        clock.advance(5)
        consumer.drain(queue="timers", max_messages=10 * n)
        counter.take(), counter.take_items()
        features.run("webhook_sweeper")
        rows.append(("job: sweeper, nothing lost (per run)", counter.take(),
                     counter.take_items(), 1))
        features.run("webhook_cleanup")
        rows.append(("job: cleanup, nothing due (per run)", counter.take(),
                     counter.take_items(), 1))
    return rows


def timed(plane: Plane, receiver, n: int, consumers: int):
    """(wall seconds, received, delivered, median POST ms) of `n` deliveries, from the
    consumers' start to the last one received."""
    import json
    import statistics

    from chalicelib.store import keys
    from chalicelib.store.tables import Delivery
    from local import consumer

    def received():
        return sum(1 for r in list(receiver.requests)
                   if json.loads(r.body)["aggregate_id"].startswith("T"))
    scope = keys.scope_key(plane.inst, "prod")
    for i in range(n):
        plane.append(order(i, "T"), "placed")
    stop = threading.Event()
    threads = [threading.Thread(target=consumer.consume, args=(stop,),
                                kwargs={"queue": "timers"}, daemon=True)
               for _ in range(consumers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    deadline = started + 600
    while time.monotonic() < deadline and received() < n:
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    stop.set()
    for t in threads:
        t.join()
    mine = [d for d in Delivery.query(scope) if d.aggregate_id.startswith("T")]
    posts = [a["duration_ms"] for d in mine for a in d.attempts]
    return (elapsed, received(), sum(1 for d in mine if d.status == "delivered"),
            statistics.median(posts) if posts else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100, help="deliveries counted")
    parser.add_argument("--timed", type=int, default=300, help="deliveries timed")
    parser.add_argument("--consumers", type=int, default=2)
    args = parser.parse_args(argv)
    from chalicelib.core import settings
    from testing.webhook_receiver import Receiver
    receiver = Receiver().start()
    try:
        with api_stack() as stack:
            s = settings.get()
            s.webhook_allow_loopback = True
            plane = Plane(stack, receiver.url)
            rows = counts(plane, receiver, args.events)
            title(f"AWS calls per listener delivery ({args.events} deliveries, moto in-process, "
                  "receiver on loopback)")
            out = []
            for label, calls, items, per in rows:
                out.append((label, f"{per_call(calls, per, 'dynamodb'):.2f}",
                            f"{per_call(calls, per, 'sqs'):.2f}", f"{items / max(per, 1):.1f}",
                            breakdown(Counter({k: round(v / max(per, 1), 2)
                                               for k, v in calls.items()}))))
            print(table(("phase (per delivery)", "DynamoDB", "SQS", "tx items", "calls"), out,
                        right=(1, 2, 3)))
            extra_ddb = (per_call(rows[1][1], args.events, "dynamodb")
                         - per_call(rows[0][1], args.events, "dynamodb"))
            extra_sqs = (per_call(rows[1][1], args.events, "sqs")
                         - per_call(rows[0][1], args.events, "sqs"))
            ok = rows[2]
            print(f"\na delivery delivered at once costs {extra_ddb + per_call(ok[1], ok[3], 'dynamodb'):.2f} "
                  f"DynamoDB + {extra_sqs + per_call(ok[1], ok[3], 'sqs'):.2f} SQS calls beyond its "
                  f"append (and {(rows[1][2] - rows[0][2]) / args.events:.1f} item in the "
                  "append's transaction); each failed attempt that is retried adds "
                  f"{per_call(rows[3][1], rows[3][3], 'dynamodb'):.2f} DynamoDB + "
                  f"{per_call(rows[3][1], rows[3][3], 'sqs'):.2f} SQS calls")
            elapsed, received, delivered, post_ms = timed(plane, receiver, args.timed,
                                                          args.consumers)
            title(f"Deliveries per second through the timers queue ({args.consumers} consumers "
                  "polling as make run does, moto in-process, receiver on loopback)")
            print(table(("deliveries", "received", "delivered", "wall s", "deliveries/s",
                         "ms each", "POST ms (median)"),
                        [(args.timed, received, delivered, f"{elapsed:.2f}",
                          f"{received / elapsed:.1f}",
                          f"{1000 * elapsed / max(received, 1) * args.consumers:.1f}",
                          post_ms)],
                        right=(0, 1, 2, 3, 4, 5, 6)))
            print("ms each = wall time x consumers / deliveries: one consumer's time per "
                  "delivery (receive, the DynamoDB calls, the signed POST, delete); the "
                  "in-process moto's conditional UpdateItem dominates it, the POST itself "
                  "is the last column")
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
