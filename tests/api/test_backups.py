"""Seed 000's backups (ops surface), the `backups` job and backup settings."""
import hashlib
import json

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.platform.backups import service as svc
from chalicelib.store import aws
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import AuditEntry, Backup
from tests.api.test_export import World

FIELDS = {"id", "instance_id", "environment", "status", "requested_at", "requested_by",
          "started_at", "completed_at", "events", "size", "sha256", "s3_key",
          "offsite_status", "error", "progress"}


@pytest.fixture
def world(stack, frozen_clock):
    w = World(stack)
    w.token = stack.operator_token()
    w.append("order", "0RDER0001", "created", {"customer": "C00000001", "total": 10})
    w.append("order", "0RDER0001", "item_added", {"sku": "A", "qty": 2})
    w.append("order", "0RDER0002", "created", {"customer": "C00000002", "total": 5.5})
    w.append("order", "X00000001", "created", {"customer": "CX0000001", "total": 2}, env="staging")
    w.base = f"/api/instances/{w.inst}/ops/prod/backups"
    return w


def call(w, method, path="", body=None, token=None):
    return w.stack.call(method, w.base + path, token or w.token, body=body)


def objects(bucket="backups"):
    s3 = aws.client("s3")
    name = bucket_name(bucket) if bucket in ("backups",) else bucket
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", []))


def body_of(key, bucket=None):
    return aws.client("s3").get_object(Bucket=bucket or bucket_name("backups"),
                                       Key=key)["Body"].read()


def audits(action):
    return [e for e in AuditEntry.scan() if e.action == action]


def test_request_run_list_get_delete(world):
    w = world
    answer = call(w, "POST")
    assert answer.status == 202, answer
    bid = answer.json["job_id"]
    assert answer.json["status_url"] == f"/api/instances/{w.inst}/ops/prod/backups/{bid}"
    rec = answer.json["backup"]
    assert set(rec) == FIELDS and rec["status"] == "pending" and rec["id"] == bid
    assert rec["s3_key"] == f"{w.inst}/prod/{bid}.jsonl"
    assert rec["requested_by"] == "admin@example.com" and rec["requested_at"].endswith("Z")
    [entry] = audits("backup_requested")
    assert entry.target == f"{w.inst}/prod/{bid}"

    assert w.stack.call("GET", answer.json["status_url"], w.token).json["status"] == "pending"
    first = features.run("backups")
    assert first["completed"] == 1
    assert features.run("backups") == {"requested": 0, "completed": 0, "failed": 0, "pruned": 0,
                                   "retried": 0, "timed_out": 0}

    got = w.stack.call("GET", answer.json["status_url"], w.token)
    assert got.status == 200, got
    rec = got.json
    raw = body_of(rec["s3_key"])
    export = w.export()
    assert raw.decode() == export.text            # the export's lines, byte for byte
    assert rec["status"] == "completed" and rec["events"] == len(export.text.splitlines()) == 5 and rec["size"] == len(raw)
    assert rec["sha256"] == hashlib.sha256(raw).hexdigest()
    assert rec["started_at"] and rec["completed_at"] and rec["error"] is None
    assert rec["offsite_status"] is None
    assert [json.loads(x)["aggregate_id"] for x in raw.decode().splitlines()][:2] == ["C00000001", "C00000002"]

    clock.advance(2)
    second = call(w, "POST").json["job_id"]
    listed = call(w, "GET")
    assert listed.status == 200
    assert [b["id"] for b in listed.json["backups"]] == [second, rec["id"]]

    gone = call(w, "DELETE", f"/{rec['id']}")
    assert gone.status == 200, gone
    assert gone.json["deleted"] is True
    assert objects() == []
    assert len(audits("backup_deleted")) == 1
    assert call(w, "GET", f"/{rec['id']}").status == 404
    again = call(w, "DELETE", f"/{rec['id']}")
    assert again.status == 404 and again.json["error"] == "BACKUP_NOT_FOUND"
    assert len(audits("backup_deleted")) == 1


def test_unknown_and_bad_paths(world):
    w = world
    assert call(w, "GET", "/bk_nope").json["error"] == "BACKUP_NOT_FOUND"
    assert w.stack.call("GET", f"/api/instances/{w.inst}/ops/moon/backups",
                        w.token).status == 400
    assert w.stack.call("POST", "/api/instances/nope/ops/prod/backups", w.token).status == 404


def test_delete_while_running_is_409(world):
    w = world
    bid = call(w, "POST").json["job_id"]
    item = Backup.get(f"{w.inst}#prod", bid)
    assert svc.claim(item, clock.now())
    refused = call(w, "DELETE", f"/{bid}")
    assert refused.status == 409 and refused.json["error"] == "BACKUP_RUNNING"
    assert audits("backup_deleted") == []
    assert call(w, "GET", f"/{bid}").json["status"] == "running"


def test_stale_running_backup_is_retried_once_then_failed(world):
    w = world
    bid = call(w, "POST").json["job_id"]
    item = Backup.get(f"{w.inst}#prod", bid)
    assert svc.claim(item, clock.now())          # a run that crashed
    assert features.run("backups")["retried"] == 0     # not stale yet
    clock.advance(svc.STALE_AFTER + 1)
    out = features.run("backups")
    assert out["retried"] == 1 and out["completed"] == 1
    w.token = w.stack.operator_token()
    assert call(w, "GET", f"/{bid}").json["status"] == "completed"

    bid2 = call(w, "POST").json["job_id"]
    item = Backup.get(f"{w.inst}#prod", bid2)
    item.update(actions=[Backup.attempts.set(svc.MAX_ATTEMPTS - 1)])
    assert svc.claim(item, clock.now())
    clock.advance(svc.STALE_AFTER + 1)
    assert features.run("backups")["timed_out"] == 1
    w.token = w.stack.operator_token()
    rec = call(w, "GET", f"/{bid2}").json
    assert rec["status"] == "failed" and rec["error"].startswith("timed out")


def test_failure_is_recorded(world, monkeypatch):
    w = world
    bid = call(w, "POST").json["job_id"]

    def boom(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(svc.export, "page", boom)
    assert features.run("backups")["failed"] == 1
    rec = call(w, "GET", f"/{bid}").json
    assert rec["status"] == "failed" and "disk on fire" in rec["error"]
    assert objects() == []


def test_large_backup_uses_multipart(world, monkeypatch):
    w = world
    monkeypatch.setattr(svc, "PART_BYTES", 5 * 1024 * 1024)
    big = "x" * (1024 * 1024)
    lines = [json.dumps({"n": i, "pad": big}) + "\n" for i in range(12)]
    pages = [svc.export.Page(lines[:6], "C00000001"), svc.export.Page(lines[6:], None)]
    monkeypatch.setattr(svc.export, "page", lambda *a, cursor=None, **k:
                        pages[0] if cursor is None else pages[1])
    bid = call(w, "POST").json["job_id"]
    assert features.run("backups")["completed"] == 1
    rec = call(w, "GET", f"/{bid}").json
    raw = body_of(rec["s3_key"])
    assert raw.decode() == "".join(lines) and rec["events"] == 12
    assert rec["sha256"] == hashlib.sha256(raw).hexdigest()


def test_settings_defaults_and_validation(world):
    w = world
    url = f"/api/instances/{w.inst}/backup_settings"
    got = w.stack.call("GET", url, w.token)
    assert got.status == 200
    assert got.json == {"enabled": False, "interval_hours": 24, "retain": 7, "offsite": None}
    for bad in ({"interval_hours": 0}, {"interval_hours": 169}, {"retain": 0},
                {"retain": 366}, {"enabled": "yes"}, {"offsite": {"prefix": "x"}},
                {"offsite": {"bucket": "Bad_Bucket"}}, {"color": "red"},
                {"interval_hours": 1.5}):
        answer = w.stack.call("PUT", url, w.token, body=bad)
        assert answer.status == 400, (bad, answer)
        assert answer.json["error"] == "VALIDATION_ERROR" and answer.json["details"]
    assert audits("backup_settings_updated") == []
    put = w.stack.call("PUT", url, w.token, body={"retain": 3})
    assert put.status == 200
    assert put.json == {"enabled": False, "interval_hours": 24, "retain": 3, "offsite": None}
    [entry] = audits("backup_settings_updated")
    assert entry.details["old"]["retain"] == 7 and entry.details["new"]["retain"] == 3
    assert w.stack.call("GET", url, w.token).json["retain"] == 3
    assert w.stack.call("GET", "/api/instances/nope/backup_settings", w.token).status == 404


def test_automatic_backups_and_retention(world):
    w = world
    url = f"/api/instances/{w.inst}/backup_settings"
    assert w.stack.call("PUT", url, w.token,
                        body={"enabled": True, "interval_hours": 1, "retain": 2}).status == 200
    first = features.run("backups")
    # prod and staging have specs (World deploys both): one backup each
    assert first["requested"] == 2 and first["completed"] == 2
    assert features.run("backups")["requested"] == 0   # not due again yet
    clock.advance(1800)
    assert features.run("backups")["requested"] == 0
    for _ in range(2):
        clock.advance(3600)
        out = features.run("backups")
        assert out["requested"] == 2 and out["completed"] == 2
    # three completed per environment, retain 2: the oldest of each pruned
    assert out["pruned"] == 2
    w.token = w.stack.operator_token()            # the clock moved past the old token
    answer = call(w, "GET")
    assert answer.status == 200, answer
    listed = answer.json["backups"]
    assert len(listed) == 2 and all(b["status"] == "completed" for b in listed)
    assert all(b["requested_by"] == "system:scheduler" for b in listed)
    assert objects() == sorted(b["s3_key"] for b in listed + w.stack.call(
        "GET", f"/api/instances/{w.inst}/ops/staging/backups", w.token).json["backups"])
    assert features.run("backups") == {"requested": 0, "completed": 0, "failed": 0, "pruned": 0,
                                   "retried": 0, "timed_out": 0}
    # disabled: nothing more
    w.stack.call("PUT", url, w.token, body={"enabled": False})
    clock.advance(10 * 3600)
    assert features.run("backups")["requested"] == 0


def test_offsite_copy(world):
    w = world
    aws.client("s3").create_bucket(Bucket="offsite-vault")
    url = f"/api/instances/{w.inst}/backup_settings"
    put = w.stack.call("PUT", url, w.token,
                       body={"offsite": {"bucket": "offsite-vault", "prefix": "j17/"}})
    assert put.status == 200 and put.json["offsite"] == {"bucket": "offsite-vault",
                                                         "prefix": "j17/"}
    bid = call(w, "POST").json["job_id"]
    features.run("backups")
    rec = call(w, "GET", f"/{bid}").json
    assert rec["status"] == "completed" and rec["offsite_status"] == "completed"
    assert body_of(f"j17/{rec['s3_key']}", "offsite-vault") == body_of(rec["s3_key"])

    # a bucket that does not exist: the copy fails, the backup stands
    w.stack.call("PUT", url, w.token, body={"offsite": {"bucket": "no-such-vault"}})
    bid = call(w, "POST").json["job_id"]
    features.run("backups")
    rec = call(w, "GET", f"/{bid}").json
    assert rec["status"] == "completed" and rec["offsite_status"] == "failed"
    assert rec["s3_key"] in objects()


def test_permissions(world):
    w = world
    token = w.stack.token_with(["view_metrics"])
    bid = call(w, "POST").json["job_id"]
    before = AuditEntry.count()
    for method, path, body in (("POST", w.base, None), ("GET", w.base, None),
                               ("GET", f"{w.base}/{bid}", None),
                               ("DELETE", f"{w.base}/{bid}", None),
                               ("GET", f"/api/instances/{w.inst}/backup_settings", None),
                               ("PUT", f"/api/instances/{w.inst}/backup_settings",
                                {"retain": 2})):
        answer = w.stack.call(method, path, token, body=body)
        assert answer.status == 403, (method, path, answer)
    assert AuditEntry.count() == before
    allowed = w.stack.token_with(["manage_ops"])
    assert w.stack.call("GET", w.base, allowed).status == 200
