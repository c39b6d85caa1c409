"""The work queue and long jobs: a requested job starts from the queue within seconds,
runs in slices, survives a crashed slice and a lost message, and runs once when two
consumers get it."""
import json

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.store import aws, jobs, queues
from chalicelib.store.tables import Job
from local import consumer
from testing.stack import NODE_SECRET
from tests.api.test_export import World


def messages(logical="work"):
    """Every visible message body of a queue, left invisible for a moment (tests only)."""
    sqs = aws.client("sqs")
    url = queues.queue_url(queues.queue_name(logical))
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        batch = got.get("Messages", [])
        if not batch:
            return out
        for m in batch:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def world(stack, frozen_clock):
    w = World(stack)
    w.token = stack.operator_token()
    w.append("order", "0RDER0001", "created", {"customer": "C00000001", "total": 10})
    return w


class Counting:
    """A job kind that counts to params["to"], `step` items per slice."""

    def __init__(self, step=3, crash_at=None, fail_at=None):
        self.step, self.crash_at, self.fail_at, self.calls = step, crash_at, fail_at, 0

    def __call__(self, run):
        self.calls += 1
        done = run.cursor.get("done", 0)
        target = run.params["to"]
        for _ in range(self.step):
            if done >= target:
                break
            if done == self.crash_at:
                self.crash_at = None
                raise RuntimeError("the container died")
            if done == self.fail_at:
                raise AppError("JOB_FAILED", f"item {done} is bad")
            done += 1
            run.cursor["done"] = done
            run.progress(done=done, total=target, bytes_done=done * 10)
        run.save()
        return {"counted": done} if done >= target else "more"


@pytest.fixture
def counting(monkeypatch):
    kind = Counting()
    monkeypatch.setitem(features.JOB_KINDS, "import", kind)
    return kind


def start(w, to=7):
    job = jobs.new(w.inst, "prod", "import", {"to": to}, "admin@example.com")
    job.save()
    jobs.enqueue(job)
    return job


def status(w, job_id):
    return w.stack.call("GET", f"/api/instances/{w.inst}/ops/prod/jobs/{job_id}", w.token)


def test_requested_backup_starts_from_the_queue_not_the_schedule(world):
    w = world
    answer = w.stack.call("POST", f"/api/instances/{w.inst}/ops/prod/backups", w.token)
    assert answer.status == 202
    assert consumer.drain() == 1      # no scheduled job ran: the queue alone did it
    record = w.stack.call("GET", answer.json["status_url"], w.token).json
    assert record["status"] == "completed" and record["events"] == 2  # + the implied one
    assert record["progress"]["done"] == 2 and record["progress"]["percent"] == 100.0
    assert record["progress"]["bytes"] == record["size"]
    assert consumer.drain() == 0


def test_a_long_job_runs_in_slices_to_its_end(world, counting):
    w = world
    job = start(w, to=7)
    assert consumer.drain() == 3                     # 3 + 3 + 1 items, one slice each
    body = status(w, job.id).json
    assert body["status"] == "completed" and body["result"] == {"counted": 7}
    assert body["progress"]["done"] == 7 and body["progress"]["total"] == 7
    assert body["progress"]["percent"] == 100.0 and body["progress"]["bytes"] == 70
    assert Job.get(job.scope, job.id).slices == 3


def test_a_crashed_slice_resumes_from_its_last_save(world, counting):
    w = world
    counting.crash_at = 4
    job = start(w, to=7)
    with pytest.raises(RuntimeError):
        jobs.run_slice(job.scope, job.id, features.JOB_KINDS)   # 0..3, saved
        jobs.run_slice(job.scope, job.id, features.JOB_KINDS)   # dies at 4
    item = Job.get(job.scope, job.id, consistent_read=True)
    assert item.status == "running" and item.crashes == 1 and item.lease_owner is None
    assert item.cursor == {"done": 3} or item.cursor == {"done": 4}
    while jobs.run_slice(job.scope, job.id, features.JOB_KINDS) == "more":
        pass
    body = status(w, job.id).json
    assert body["status"] == "completed" and body["result"] == {"counted": 7}


def test_an_app_error_fails_the_job_with_its_message(world, counting):
    w = world
    counting.fail_at = 2
    job = start(w, to=7)
    consumer.drain()
    body = status(w, job.id).json
    assert body["status"] == "failed" and body["error"] == "item 2 is bad"
    assert body["progress"]["done"] == 2


def test_two_consumers_of_one_job_run_it_once(world, counting):
    w = world
    job = start(w, to=2)
    first = Job.get(job.scope, job.id)
    owner = jobs.claim(first, clock.now())
    assert owner is not None
    assert jobs.run_slice(job.scope, job.id, features.JOB_KINDS) == "skipped"   # lease held
    assert counting.calls == 0


def test_the_sweeper_resends_a_lost_message_and_frees_a_dead_lease(world, counting):
    w = world
    job = jobs.new(w.inst, "prod", "import", {"to": 2}, "admin@example.com")
    job.save()                                   # its message never sent
    assert messages() == []
    assert jobs.sweep()["resent"] == 0           # just requested: give it a moment
    clock.advance(jobs.SWEEP_AFTER + 1)
    assert jobs.sweep()["resent"] == 1
    assert messages() == [{"task": "job", "scope": job.scope, "id": job.id}]
    # a slice took it and died without a word: its lease runs out, the sweeper frees it
    assert jobs.claim(Job.get(job.scope, job.id), clock.now()) is not None
    assert jobs.sweep() == {"resent": 0, "crashed": 0}
    clock.advance(jobs.LEASE_SECONDS + 1)
    assert jobs.sweep() == {"resent": 1, "crashed": 1}
    consumer.drain()
    assert status(w, job.id).json["status"] == "completed"
    assert jobs.sweep() == {"resent": 0, "crashed": 0}   # finished jobs leave the index


def test_a_job_that_keeps_dying_fails(world, counting):
    w = world
    job = jobs.new(w.inst, "prod", "import", {"to": 2}, "admin@example.com")
    job.save()
    for _ in range(jobs.MAX_CRASHES):
        assert jobs.claim(Job.get(job.scope, job.id, consistent_read=True),
                          clock.now()) is not None
        clock.advance(jobs.LEASE_SECONDS + 1)
        jobs.sweep()
    body = status(w, job.id).json
    assert body["status"] == "failed" and "crashes" in body["error"]


def test_the_chalice_consumer_runs_a_task(world, counting):
    w = world
    job = jobs.new(w.inst, "prod", "import", {"to": 2}, "admin@example.com")
    job.save()
    client = w.stack.client
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps({"task": "job", "scope": job.scope, "id": job.id})],
        queue_name=queues.queue_name("work"))
    client.lambda_.invoke("work_queue", event)
    assert status(w, job.id).json["status"] == "completed"


def test_a_message_naming_no_task_is_dropped(world):
    assert features.handle_message("not json") == "dropped"
    assert features.handle_message(json.dumps({"task": "nope"})) == "dropped"


def test_job_listing_filters_and_pages(world, counting):
    w = world
    ids = []
    for _ in range(3):
        ids.append(start(w, to=1).id)
        clock.advance(0.01)          # ids sort by request time
    consumer.drain()
    base = f"/api/instances/{w.inst}/ops/prod/jobs"
    page = w.stack.call("GET", base + "?limit=2", w.token).json
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2] and page["next_cursor"]
    rest = w.stack.call("GET", base + f"?limit=2&cursor={page['next_cursor']}", w.token).json
    assert [j["id"] for j in rest["jobs"]] == [ids[0]] and rest["next_cursor"] is None
    assert w.stack.call("GET", base + "?status=failed", w.token).json["jobs"] == []
    internal = w.stack.call("GET", f"/internal/instances/{w.inst}/prod/jobs/{ids[0]}",
                            headers={"X-Node-Secret": NODE_SECRET})
    assert internal.status == 200 and internal.json["status"] == "completed"
    missing = status(w, "job_0000000000000000000000000")
    assert missing.status == 404 and missing.json["error"] == "JOB_NOT_FOUND"
