"""Root checkpoints (internal and ops surfaces): the job that writes every aggregate of a
type as one gzip JSON Lines file with a manifest, its listing, latest and delete, the
settings and the scheduled job that takes them."""
import gzip
import hashlib
import json

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.platform.checkpoints import root
from chalicelib.store import aws, jobs
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import AuditEntry, Job, RootCheckpoint
from local import consumer
from tests.api.test_export import World

FIELDS = {"id", "instance_id", "environment", "aggregate_type", "status", "created_at",
          "created_by", "job_id", "cut_at", "completed_at", "spec_version", "count", "size",
          "sha256", "s3_key", "manifest_key", "error"}


@pytest.fixture
def world(stack, frozen_clock):
    w = World(stack)
    w.token = stack.operator_token()
    w.append("order", "0RDER0001", "created", {"customer": "C00000001", "total": 10})
    w.append("order", "0RDER0001", "item_added", {"sku": "A", "qty": 2})
    w.append("order", "0RDER0002", "created", {"customer": "C00000002", "total": 5})
    w.append("order", "X00000001", "created", {"customer": "CX0000001", "total": 2},
             env="staging")
    clock.advance(60)
    w.base = f"/api/instances/{w.inst}/ops/prod"
    return w


def call(w, method, path, body=None, token=None):
    return w.stack.call(method, w.base + path, token or w.token, body=body)


def request(w, agg_type="order"):
    answer = call(w, "POST", "/root-checkpoints", {"aggregate_type": agg_type})
    assert answer.status == 202, answer
    return answer.json


def written(w, agg_type="order"):
    """Request one and let the work queue's consumer write it; its record."""
    rc_id = request(w, agg_type)["root_checkpoint"]["id"]
    consumer.drain()
    return root.describe(RootCheckpoint.get(f"{w.inst}#prod", rc_id))


def s3_body(key):
    return aws.client("s3").get_object(Bucket=bucket_name("backups"), Key=key)["Body"].read()


def objects(prefix="root-checkpoints/"):
    listed = aws.client("s3").list_objects_v2(Bucket=bucket_name("backups"), Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def lines_of(key):
    return [json.loads(x) for x in gzip.decompress(s3_body(key)).decode().splitlines()]


def audits(action):
    return [e for e in AuditEntry.scan() if e.action == action]


def state_of(w, agg_type, agg_id, at=None):
    key = w.keys[(w.inst, "prod")]
    return w.stack.call("GET", f"/data/{agg_type}/{agg_id}" + (f"?at={at}" if at else ""),
                        headers={"Authorization": f"Bearer {key}"}).json


def root_hex(w, agg_type, agg_id):
    return call(w, "GET", f"/audit/merkle-root/{agg_type}/{agg_id}").json["root_hex"]


# --- writing ---------------------------------------------------------------------------

def test_a_request_is_a_job_that_writes_the_file_and_manifest(world):
    w = world
    answer = request(w)
    rec = answer["root_checkpoint"]
    assert set(rec) == FIELDS and rec["status"] == "pending" and rec["id"].startswith("rc_")
    assert answer["job_id"] == rec["job_id"]
    assert answer["status_url"] == f"/api/instances/{w.inst}/ops/prod/jobs/{answer['job_id']}"
    assert answer["job"]["kind"] == "root_checkpoint"
    assert rec["s3_key"] == f"root-checkpoints/{w.inst}/prod/order/{rec['id']}.jsonl.gz"
    [entry] = audits("root_checkpoint_created")
    assert entry.target == f"{w.inst}/prod/order"
    assert entry.details["root_checkpoint_id"] == rec["id"]
    assert consumer.drain() == 1
    job = w.stack.call("GET", answer["status_url"], w.token).json
    assert job["status"] == "completed" and job["progress"]["done"] == 2
    assert job["result"]["count"] == 2 and job["result"]["root_checkpoint_id"] == rec["id"]
    done = call(w, "GET", "/root-checkpoints/latest?aggregate_type=order").json
    assert done["id"] == rec["id"] and done["status"] == "completed" and done["count"] == 2
    raw = s3_body(done["s3_key"])
    assert done["sha256"] == hashlib.sha256(raw).hexdigest() and done["size"] == len(raw)
    assert lines_of(done["s3_key"]) == [
        {"id": agg_id, "length": state_of(w, "order", agg_id)["metadata"]["length"],
         "state": state_of(w, "order", agg_id)["data"],
         "merkle_root": root_hex(w, "order", agg_id)} for agg_id in ("0RDER0001", "0RDER0002")]
    manifest = json.loads(s3_body(done["manifest_key"]))
    assert manifest["count"] == 2 and manifest["sha256"] == done["sha256"]
    assert manifest["size"] == len(raw) and manifest["spec_version"] == 1
    assert manifest["aggregate_type"] == "order" and manifest["file"] == done["s3_key"]
    assert manifest["created_at"] == done["created_at"] and manifest["cut_at"] == done["cut_at"]
    assert consumer.drain() == 0


def test_the_file_is_consistent_as_of_its_cut(world):
    w = world
    t_first = clock.now() - 60
    w.append("order", "0RDER0001", "closed", {})             # after the cut
    w.append("order", "0RDER0003", "created", {"customer": "C00000003", "total": 1})  # new
    rec = written(w)
    assert rec["cut_at"] == clock.iso(clock.now() - root.CUT_DELAY)
    lines = lines_of(rec["s3_key"])
    assert [x["id"] for x in lines] == ["0RDER0001", "0RDER0002"]
    first = lines[0]
    cut = clock.now() - root.CUT_DELAY
    assert first["length"] == 2 and first["state"] == state_of(w, "order", "0RDER0001", cut)["data"]
    assert first["state"]["status"] == "open"
    proof = call(w, "GET", "/audit/merkle-consistency/order/0RDER0001?old_size=2").json
    import base64
    assert first["merkle_root"] == base64.b64decode(proof["root1"]).hex()
    assert t_first <= cut


def test_other_types_and_environments_stay_out(world):
    w = world
    rec = written(w, "customer")
    assert [x["id"] for x in lines_of(rec["s3_key"])] == ["C00000001", "C00000002"]
    assert all(x["state"] == {"orders": 1} for x in lines_of(rec["s3_key"]))


def test_an_interrupted_job_resumes_and_writes_the_same_file(world, monkeypatch):
    w = world
    import base64
    import os
    for n in range(3, 15):   # states of a few KB that compress little: parts fill up
        w.append("order", f"0RDER{n:04d}", "created", {"customer": f"C{n:08d}", "total": n})
        w.append("order", f"0RDER{n:04d}", "item_added",
                 {"sku": base64.b64encode(os.urandom(3000)).decode(), "qty": 1})
    clock.advance(60)
    whole = written(w)                       # one slice, no interruption
    expected = lines_of(whole["s3_key"])
    assert len(expected) == 14
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setattr("chalicelib.store.uploads.PART_BYTES", 200)
    monkeypatch.setattr("chalicelib.store.uploads.MIN_PART_BYTES", 200)
    real_line, seen = root._line, []

    def dying(*args):                        # the container dies once, mid-way
        seen.append(1)
        if len(seen) == 9:
            raise RuntimeError("the container died")
        return real_line(*args)
    monkeypatch.setattr(root, "_line", dying)
    monkeypatch.setattr(root, "SLICE_MARGIN", 10 ** 9)    # and every slice stops after a part
    clock.advance(1)
    answer = request(w)
    rc_id, job_id = answer["root_checkpoint"]["id"], answer["job_id"]
    for _ in range(40):
        consumer.drain()
        job = Job.get(f"{w.inst}#prod", job_id)
        if job.status in ("completed", "failed"):
            break
        if job.lease_owner is None:          # a crashed slice: its message comes back later
            jobs.run_slice(job.scope, job.id, features.JOB_KINDS)
    job = Job.get(f"{w.inst}#prod", job_id)
    assert job.status == "completed", job.error
    assert int(job.slices) > 3 and int(job.crashes) == 1
    rec = root.describe(RootCheckpoint.get(f"{w.inst}#prod", rc_id))
    assert lines_of(rec["s3_key"]) == expected
    raw = s3_body(rec["s3_key"])
    assert rec["sha256"] == hashlib.sha256(raw).hexdigest() and rec["count"] == 14
    head = aws.client("s3").head_object(Bucket=bucket_name("backups"), Key=rec["s3_key"])
    assert "-" in head["ETag"]               # a multipart upload: many gzip members
    assert aws.client("s3").list_multipart_uploads(
        Bucket=bucket_name("backups")).get("Uploads", []) == []


def test_a_failing_fold_fails_the_job_and_the_record(world, monkeypatch):
    w = world

    def broken(*args):
        raise AppError("HANDLER_FAILED", "replaying event 1: no such path")
    monkeypatch.setattr(root, "_line", broken)
    answer = request(w)
    consumer.drain()
    job = w.stack.call("GET", answer["status_url"], w.token).json
    assert job["status"] == "failed" and "no such path" in job["error"]
    rec = call(w, "GET", "/root-checkpoints").json["root_checkpoints"][0]
    assert rec["status"] == "failed" and "no such path" in rec["error"]
    assert call(w, "GET", "/root-checkpoints/latest").status == 404
    assert call(w, "DELETE", f"/root-checkpoints/{rec['id']}").status == 200


def test_a_second_copy_of_the_message_writes_nothing(world):
    w = world
    answer = request(w)
    job = Job.get(f"{w.inst}#prod", answer["job_id"])
    jobs.enqueue(job)                         # the queue delivered it twice
    assert consumer.drain() == 2
    assert len(objects()) == 2                # one file and its manifest
    assert len(audits("root_checkpoint_created")) == 1


# --- refusals, surfaces ----------------------------------------------------------------

def test_refusals(world):
    w = world
    unknown = call(w, "POST", "/root-checkpoints", {"aggregate_type": "invoice"})
    assert unknown.status == 422 and unknown.json["error"] == "UNKNOWN_AGGREGATE_TYPE"
    for body in ({}, {"aggregate_type": ""}, {"aggregate_type": "a#b"},
                 {"aggregate_type": "order", "x": 1}):
        assert call(w, "POST", "/root-checkpoints", body).status == 400, body
    no_spec = w.stack.call("POST", f"/api/instances/{w.inst}/ops/test/root-checkpoints",
                           w.token, body={"aggregate_type": "order"})
    assert no_spec.status == 404 and no_spec.json["error"] == "SPEC_NOT_FOUND"
    for path in ("/root-checkpoints/rc_0000000000000000000000000", "/root-checkpoints/nope"):
        answer = call(w, "DELETE", path)
        assert answer.status == 404 and answer.json["error"] == "ROOT_CHECKPOINT_NOT_FOUND"
    latest = call(w, "GET", "/root-checkpoints/latest")
    assert latest.status == 404 and latest.json["error"] == "ROOT_CHECKPOINT_NOT_FOUND"
    assert call(w, "GET", "/root-checkpoints?cursor=nope").status == 400
    token = w.stack.token_with(["view_instances", "load_data"])
    for method, path, body in (("GET", "/root-checkpoints", None),
                               ("POST", "/root-checkpoints", {"aggregate_type": "order"}),
                               ("GET", "/root-checkpoints/latest", None),
                               ("DELETE", "/root-checkpoints/rc_0000000000000000000000000", None),
                               ("GET", "/root-checkpoint-settings", None),
                               ("PUT", "/root-checkpoint-settings", {"retain": 2})):
        answer = call(w, method, path, body, token=token)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS"
    assert audits("root_checkpoint_created") == [] and RootCheckpoint.count() == 0


def test_internal_surface(world):
    w = world
    base = f"/internal/instances/{w.inst}/prod"
    made = w.stack.node("POST", base + "/root-checkpoints", body={"aggregate_type": "order"})
    assert made.status == 202, made
    assert made.json["root_checkpoint"]["created_by"] == "node"
    consumer.drain()
    latest = w.stack.node("GET", base + "/root-checkpoints/latest?aggregate_type=order")
    assert latest.status == 200 and latest.json["count"] == 2
    listed = w.stack.node("GET", base + "/root-checkpoints").json["root_checkpoints"]
    assert [r["id"] for r in listed] == [latest.json["id"]]
    assert w.stack.node("GET", base + "/root-checkpoint-settings").status == 200
    assert w.stack.node("PUT", base + "/root-checkpoint-settings",
                        body={"retain": 3}).json["retain"] == 3
    assert w.stack.node("DELETE", f"{base}/root-checkpoints/{latest.json['id']}").status == 200
    assert w.stack.call("GET", base + "/root-checkpoints").status == 401


# --- listing, latest, delete -----------------------------------------------------------

def test_list_latest_and_delete(world):
    w = world
    first = written(w)
    clock.advance(1)
    customers = written(w, "customer")
    clock.advance(1)
    second = written(w)
    listed = call(w, "GET", "/root-checkpoints").json
    assert [r["id"] for r in listed["root_checkpoints"]] == [second["id"], customers["id"],
                                                             first["id"]]
    orders = call(w, "GET", "/root-checkpoints?aggregate_type=order").json["root_checkpoints"]
    assert [r["id"] for r in orders] == [second["id"], first["id"]]
    page = call(w, "GET", "/root-checkpoints?limit=2").json
    assert len(page["root_checkpoints"]) == 2 and page["next_cursor"] == customers["id"]
    rest = call(w, "GET", f"/root-checkpoints?limit=2&cursor={page['next_cursor']}").json
    assert [r["id"] for r in rest["root_checkpoints"]] == [first["id"]]
    assert rest["next_cursor"] is None
    assert call(w, "GET", "/root-checkpoints/latest").json["id"] == second["id"]
    assert call(w, "GET", "/root-checkpoints/latest?aggregate_type=customer").json["id"] == \
        customers["id"]
    gone = call(w, "DELETE", f"/root-checkpoints/{second['id']}")
    assert gone.status == 200 and gone.json["deleted"] is True
    assert second["s3_key"] not in objects() and second["manifest_key"] not in objects()
    [entry] = audits("root_checkpoint_deleted")
    assert entry.details["root_checkpoint_id"] == second["id"]
    assert call(w, "GET", "/root-checkpoints/latest?aggregate_type=order").json["id"] == \
        first["id"]
    assert call(w, "DELETE", f"/root-checkpoints/{second['id']}").status == 404


def test_an_unfinished_one_is_deleted_only_once_its_job_is_gone(world):
    w = world
    rec = request(w)["root_checkpoint"]
    busy = call(w, "DELETE", f"/root-checkpoints/{rec['id']}")
    assert busy.status == 409 and busy.json["error"] == "ROOT_CHECKPOINT_RUNNING"
    clock.advance(root.STALE_AFTER + 1)
    w.token = w.stack.operator_token()
    shown = call(w, "GET", "/root-checkpoints").json["root_checkpoints"][0]
    assert shown["status"] == "failed" and shown["error"].startswith("timed out")
    assert call(w, "DELETE", f"/root-checkpoints/{rec['id']}").status == 200
    consumer.drain()                          # its job, if it ever runs, writes nothing
    assert objects() == [] and RootCheckpoint.count() == 0
    job = Job.get(f"{w.inst}#prod", rec["job_id"])
    assert job.status == "failed" and "deleted" in job.error


# --- settings and the scheduled job ----------------------------------------------------

def test_settings_defaults_validation_and_audit(world):
    w = world
    url = "/root-checkpoint-settings"
    assert call(w, "GET", url).json == {"enabled": False, "interval_hours": 24,
                                        "aggregate_types": [], "retain": 7}
    for bad in ({"interval_hours": 0}, {"interval_hours": 169}, {"retain": 0},
                {"retain": 366}, {"enabled": "yes"}, {"aggregate_types": "order"},
                {"aggregate_types": ["order", "order"]}, {"aggregate_types": ["a#b"]},
                {"color": "red"}, {"interval_hours": 1.5}):
        answer = call(w, "PUT", url, bad)
        assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR", (bad, answer)
    unknown = call(w, "PUT", url, {"aggregate_types": ["order", "invoice", "bill"]})
    assert unknown.status == 422 and unknown.json["error"] == "UNKNOWN_AGGREGATE_TYPE"
    assert [d["path"] for d in unknown.json["details"]] == ["aggregate_types.1",
                                                             "aggregate_types.2"]
    no_spec = w.stack.call("PUT", f"/api/instances/{w.inst}/ops/test{url}", w.token,
                           body={"aggregate_types": ["order"]})
    assert no_spec.status == 404 and no_spec.json["error"] == "SPEC_NOT_FOUND"
    assert audits("root_checkpoint_settings_updated") == []
    put = call(w, "PUT", url, {"enabled": True, "aggregate_types": ["order"]})
    assert put.status == 200
    assert put.json == {"enabled": True, "interval_hours": 24, "aggregate_types": ["order"],
                        "retain": 7}
    clock.advance(1)
    assert call(w, "PUT", url, {"retain": 2}).json["aggregate_types"] == ["order"]
    first, second = sorted(audits("root_checkpoint_settings_updated"), key=lambda e: e.sort_key)
    assert first.target == f"{w.inst}/prod" and first.details["old"]["enabled"] is False
    assert second.details["new"]["retain"] == 2
    other = w.stack.call("GET", f"/api/instances/{w.inst}/ops/staging{url}", w.token).json
    assert other["enabled"] is False          # settings are per environment


def test_the_schedule_takes_due_settings_once_and_keeps_retain(world):
    w = world
    call(w, "PUT", "/root-checkpoint-settings",
         {"enabled": True, "interval_hours": 1, "aggregate_types": ["order"], "retain": 2})
    assert features.run("root_checkpoints") == {"due": 1, "started": 1, "skipped": 0}
    assert features.run("root_checkpoints") == {"due": 0, "started": 0, "skipped": 0}
    consumer.drain()
    for _ in range(3):
        clock.advance(3600)
        assert features.run("root_checkpoints")["started"] == 1
        consumer.drain()
    kept = [r for r in RootCheckpoint.query(f"{w.inst}#prod")]
    assert len(kept) == 2 and all(r.status == "completed" for r in kept)
    assert {r.created_by for r in kept} == {"system:scheduler"}
    assert len(objects()) == 4
    pruned = audits("root_checkpoint_deleted")
    assert len(pruned) == 2 and {e.admin for e in pruned} == {"system:scheduler"}
    assert all(e.details["reason"] == "retention" for e in pruned)
    created = audits("root_checkpoint_created")
    assert len(created) == 4 and all(e.details["automatic"] for e in created)


def test_every_type_when_none_are_named(world):
    w = world
    call(w, "PUT", "/root-checkpoint-settings", {"enabled": True})
    assert features.run("root_checkpoints")["started"] == 2
    consumer.drain()
    assert sorted(r.aggregate_type for r in RootCheckpoint.query(f"{w.inst}#prod")) == \
        ["customer", "order"]


def test_two_copies_of_the_schedule_take_a_due_time_once(world, monkeypatch):
    w = world
    call(w, "PUT", "/root-checkpoint-settings", {"enabled": True, "aggregate_types": ["order"]})
    now = clock.now()
    reads = [root.due(now), root.due(now)]   # both copies read the due setting first
    assert [len(r) for r in reads] == [1, 1]
    monkeypatch.setattr(root, "due", lambda t: reads.pop(0))
    first, second = root.run_due(), root.run_due()
    assert first == {"due": 1, "started": 1, "skipped": 0}
    assert second == {"due": 0, "started": 0, "skipped": 0}   # its claim lost
    assert Job.count() == 1 and RootCheckpoint.count() == 1
    consumer.drain()
    assert len(objects()) == 2
