"""AWS calls per scheduled event, from schedule to emitted, and the time from due to
emitted through the timers queue (moto, in-process; the API tests' stack).

    python -m bench.scheduled_events            # 50 scheduled events
    python -m bench.scheduled_events --events 200

Each phase is counted on its own, with every DynamoDB and SQS call botocore makes
(bench/common.CallCounter), divided by the scheduled events it served:

- schedule: an append whose event type declares a `schedule` implication (with one
  `cancel_on`), beside the same append without it: the scheduled event and its
  cancel registration are items of the append's own TransactWriteItems (no extra call);
- due: the `scheduled_events` job (every minute) finding what is due and queueing it;
- emitted: the timers queue's consumer and the task (ReceiveMessage, the reads, the
  guarded append, DeleteMessage);
- cancelled: an append of a `cancel_on` event (one Query of the registrations, the
  updates in its own transaction).

Then the timing: scheduled events due a few seconds ahead (the clock is moved so that
the 5-minute minimum has nearly passed) are queued by the job with DelaySeconds and
taken by CONSUMERS threads polling as `make run` does (local/consumer.py); each one's
emitted_at - due_at is recorded (emitted_at is taken in the guarded append, just before
its transaction). SQS DelaySeconds is whole seconds: the job rounds the delay down and
the task waits the fraction left, so what remains is the consumers' polling (every
0.25 s locally; the Lambda event source long-polls) and the work of the emit itself."""
from __future__ import annotations

import argparse
import statistics
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
SPEC = {
    "aggregate_types": {
        "cart": {"events": {
            "had_item_added": {**_EVENT, "implications": [{"schedule": {
                "delay": "5m",
                "emit": {"aggregate_type": "notification", "id": "$.metadata.actor.id",
                         "event_type": "reminder", "data": {"cart_id": "$.key"}},
                "cancel_on": [{"aggregate_type": "cart", "id": "$.key",
                               "event_type": "was_checked_out"}]}}]},
            "was_viewed": _EVENT,          # the same append, nothing scheduled
            "was_checked_out": _EVENT}},
        "notification": {"events": {"reminder": _EVENT}},
    },
    "agent_types": ["user"],
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

    def append(self, cart: str, event: str):
        answer = self.stack.call("POST", f"/data/cart/{cart}/{event}",
                                 headers={"Authorization": f"Bearer {self.key}"},
                                 body={"data": {}, "metadata": ACTOR})
        assert answer.status == 201, answer


def cart(i: int, base: str = "C") -> str:
    return f"{base}{i:08d}"


def counts(plane: Plane, n: int) -> list:
    from chalicelib import features
    from chalicelib.core import clock
    from local import consumer
    rows = []
    with ItemCounter() as counter:
        for i in range(n):                      # warm: every cart's head cached
            plane.append(cart(i), "was_viewed")
            plane.append(cart(i, "D"), "was_viewed")
        counter.take(), counter.take_items()
        for i in range(n):
            plane.append(cart(i), "was_viewed")
        base, base_items = counter.take(), counter.take_items()
        rows.append(("append, nothing scheduled (baseline)", base, base_items))
        for i in range(n):
            plane.append(cart(i), "had_item_added")
        rows.append(("append that schedules", counter.take(), counter.take_items()))
        for i in range(n):
            plane.append(cart(i, "D"), "had_item_added")
        counter.take(), counter.take_items()
        for i in range(n // 2):                 # half of the D carts are checked out
            plane.append(cart(i, "D"), "was_checked_out")
        rows.append(("append of a cancel_on event (cancels one)", counter.take(),
                     counter.take_items(), n // 2))
        clock.advance(301)
        ran = features.run("scheduled_events")
        rows.append((f"job: queue what is due ({ran['queued']} in one run)", counter.take(),
                     counter.take_items(), ran["queued"]))
        handled = consumer.drain(queue="timers", max_messages=10 * n)
        rows.append((f"timers queue: emit ({handled} messages)", counter.take(),
                     counter.take_items(), handled))
        features.run("scheduled_events")
        rows.append(("job: nothing due (per run)", counter.take(), counter.take_items(), 1))
    return rows


def timing(plane: Plane, n: int, consumers: int = 2, ahead: float = 8.0,
           spacing: float = 0.2) -> list[float]:
    """Seconds from due to emitted, the job and queue in real time."""
    from chalicelib import features
    from chalicelib.core import clock
    from chalicelib.store import keys
    from chalicelib.store.tables import ScheduledEvent
    from local import consumer
    scope = keys.scope_key(plane.inst, "prod")
    before = {i.id for i in ScheduledEvent.query(scope)}
    first = clock.now()
    for i in range(n):
        plane.append(cart(i, "T"), "had_item_added")
        time.sleep(spacing)                     # spread the due times
    # the first one due in `ahead` seconds (real time), the others after it
    clock.advance(300 - ahead - (clock.now() - first))
    stop = threading.Event()
    threads = [threading.Thread(target=consumer.consume, args=(stop,),
                                kwargs={"queue": "timers"}, daemon=True)
               for _ in range(consumers)]
    for t in threads:
        t.start()
    features.run("scheduled_events")
    deadline = time.monotonic() + ahead + 60
    mine = []
    while time.monotonic() < deadline:
        mine = [i for i in ScheduledEvent.query(scope) if i.id not in before]
        if mine and all(i.status == "emitted" for i in mine):
            break
        time.sleep(0.25)
    stop.set()
    for t in threads:
        t.join()
    return sorted(float(i.emitted_at) - float(i.due_at) for i in mine if i.status == "emitted")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--timed", type=int, default=40, help="scheduled events timed")
    args = parser.parse_args(argv)
    with api_stack() as stack:
        plane = Plane(stack)
        rows = counts(plane, args.events)
        title(f"AWS calls per scheduled event ({args.events} scheduled, moto in-process)")
        out = []
        base_ddb = per_call(rows[0][1], args.events, "dynamodb")
        for row in rows:
            label, calls, items = row[:3]
            per = row[3] if len(row) > 3 else args.events
            per = max(per, 1)
            out.append((label, f"{per_call(calls, per, 'dynamodb'):.2f}",
                        f"{per_call(calls, per, 'sqs'):.2f}", f"{items / per:.1f}",
                        breakdown(Counter({k: round(v / per, 2) for k, v in calls.items()}))))
        print(table(("phase (per event)", "DynamoDB", "SQS", "tx items", "calls"), out,
                    right=(1, 2, 3)))
        sched = per_call(rows[1][1], args.events, "dynamodb")
        job = rows[3]
        emit = rows[4]
        total_ddb = (sched - base_ddb + per_call(job[1], max(job[3], 1), "dynamodb")
                     + per_call(emit[1], max(emit[3], 1), "dynamodb"))
        total_sqs = per_call(job[1], max(job[3], 1), "sqs") + per_call(emit[1], max(emit[3], 1), "sqs")
        print(f"\nschedule -> due -> emitted, beyond the scheduling append itself: "
              f"{total_ddb:.2f} DynamoDB + {total_sqs:.2f} SQS calls per scheduled event "
              f"(plus {rows[1][2] / args.events - rows[0][2] / args.events:.1f} items in the "
              "append's transaction)")
        delays = timing(plane, args.timed)
        title(f"Due to emitted through the timers queue ({len(delays)} events, 2 consumers "
              "polling every 0.25 s as make run does)")
        if delays:
            p99 = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
            print(table(("median s", "p99 s", "max s", "min s"),
                        [(f"{statistics.median(delays):.2f}", f"{p99:.2f}",
                          f"{delays[-1]:.2f}", f"{delays[0]:.2f}")], right=(0, 1, 2, 3)))
        else:
            print("nothing was emitted in time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
