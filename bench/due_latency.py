"""Time from due to emitted of scheduled events under `make run` (moto's server, `chalice
local`, the local runner's schedules and queue consumers, on free ports).

N events are appended, each scheduling an emit 5 minutes later (the platform's minimum).
The stack's clock is then moved (CLOCK_OFFSET_FILE, honoured only against the embedded
AWS) to DUE_AHEAD seconds before the first one is due, so the `scheduled_events` job
finds them within its look-ahead at its next minute and hands each to the timers queue
with DelaySeconds; the lateness of each is `emitted_at - due_at` as stored (unix seconds,
ms precision), read from the embedded DynamoDB once all are emitted.

    python -m bench.due_latency               # 40 events
    python -m bench.due_latency --events 100

Not imported by the tests."""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import table, title  # noqa: E402

DELAY_SECONDS = 300
DUE_AHEAD = 80   # the clock is set this long before the first is due: inside the job's
                # 90 s look-ahead at its next minute, as every due time is in steady state
SPEC = {
    "aggregate_types": {"reminder": {"events": {
        "requested": {"schema": {"type": "object"},
                      "handler": [{"set": {"target": "status", "value": "requested"}}],
                      "implications": [{"schedule": {"delay": "5m", "emit": {
                          "aggregate_type": "reminder", "id": "$.id", "event_type": "sent",
                          "data": {}}}}]},
        "sent": {"schema": {"type": "object"},
                 "handler": [{"set": {"target": "status", "value": "sent"}}]}}}},
    "agent_types": ["user"],
}


def _moto_table(stack, suffix: str):
    import boto3
    port = re.search(r"Embedded AWS \(moto\): http://127\.0\.0\.1:(\d+)", stack.output()).group(1)
    dynamodb = boto3.resource("dynamodb", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
    name = next(t.name for t in dynamodb.tables.all() if t.name.endswith(suffix))
    return dynamodb.Table(name)


def measure(events: int) -> dict:
    import requests

    from testing.e2e import instance_with_writer, running_stack
    with tempfile.TemporaryDirectory() as tmp:
        offset = Path(tmp) / "clock-offset"
        offset.write_text("0")
        with running_stack(Path(tmp), CLOCK_OFFSET_FILE=str(offset)) as stack:
            token, inst, _ = instance_with_writer(stack.url, "due-latency")
            auth = {"Authorization": f"Bearer {token}"}
            deployed = requests.post(f"{stack.url}/api/instances/{inst}/spec", headers=auth,
                                     json={"environment": "staging", "spec": SPEC}, timeout=30)
            assert deployed.status_code == 201, deployed.text
            key = requests.post(f"{stack.url}/api/instances/{inst}/keys", headers=auth,
                                json={"name": "b", "scope": "write", "environment": "staging"},
                                timeout=30).json()["key"]
            data = {"Authorization": f"Bearer {key}"}
            first = time.time()
            for _ in range(events):   # spread over a few seconds: due times differ
                written = requests.post(f"{stack.url}/data/reminder/{uuid.uuid4()}/requested",
                                        headers=data, timeout=30,
                                        json={"data": {}, "metadata": {"actor": {
                                            "type": "user", "id": str(uuid.uuid4())}}})
                assert written.status_code == 201, written.text
                time.sleep(0.1)
            offset.write_text(str(first + DELAY_SECONDS - DUE_AHEAD - time.time()))
            table_ = _moto_table(stack, "scheduled_events")
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                items = table_.scan()["Items"]
                if len(items) == events and all(i.get("emitted_at") for i in items):
                    break
                time.sleep(1)
            late = sorted(float(i["emitted_at"]) - float(i["due_at"]) for i in items
                          if i.get("emitted_at"))
            return {"events": events, "emitted": len(late), "late": late}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args(argv)
    title("Scheduled events under make run: time from due to emitted")
    result = measure(args.events)
    late = result["late"]
    if not late:
        print("no scheduled event was emitted within 4 minutes")
        return 1
    p99 = late[max(0, int(round(0.99 * len(late))) - 1)]
    print(table(["events", "emitted", "median s", "p99 s", "min s", "max s"],
                [[result["events"], result["emitted"], f"{statistics.median(late):.2f}",
                  f"{p99:.2f}", f"{late[0]:.2f}", f"{late[-1]:.2f}"]], right=range(6)))
    return 0 if result["emitted"] == result["events"] else 1


if __name__ == "__main__":
    sys.exit(main())
