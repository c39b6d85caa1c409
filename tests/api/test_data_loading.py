"""Seed 000's data loading (inject, import, import_jsonl, cold_start) and backup restore:
an export feeds back in unchanged, with the same hash chain and Merkle roots; a rerun
writes nothing; a crashed job resumes to exactly the file's events; bad lines are named."""
import json

import pytest
import requests

from chalicelib.platform.imports import loader
from chalicelib.store.tables import AuditEntry, StoredEvent
from local import consumer
from testing.aws_calls import operations, recording
from tests.api.test_export import World

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}


@pytest.fixture
def world(stack):
    w = World(stack)
    w.token = stack.operator_token()
    for n in range(1, 6):
        w.append("order", f"0RDER000{n}", "created", {"customer": f"C0000000{n}", "total": n})
        for i in range(n):
            w.append("order", f"0RDER000{n}", "item_added", {"sku": f"S{i}", "qty": i + 1})
    w.append("order", "0RDER0002", "closed", {})
    return w


def export_text(w, env):
    """The environment's whole export, every page."""
    text, cursor = "", None
    while True:
        answer = w.export(f"cursor={cursor}" if cursor else "", env=env)
        assert answer.status == 200, answer
        text += answer.text
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return text


def ops(w, env, tail, body=None, token=None, raw=None, content_type=None, method="POST"):
    path = f"/api/instances/{w.inst}/ops/{env}/{tail}"
    if raw is not None:
        return w.stack.call(method, path, token or w.token, raw_body=raw,
                            headers={"Content-Type": content_type or "application/x-ndjson"})
    return w.stack.call(method, path, token or w.token, body=body)


def job_of(w, answer):
    assert answer.status == 202, answer
    consumer.drain()
    return w.stack.call("GET", answer.json["status_url"], w.token).json


def merkle_root(w, env, agg, agg_id):
    return w.stack.node("GET", f"/internal/instances/{w.inst}/{env}/audit/merkle-root/"
                               f"{agg}/{agg_id}").json


def clear_test_env(w):
    """A third environment with the spec and no events."""
    from testing.specs import ORDER_SPEC
    deployed = w.stack.call("POST", f"/api/instances/{w.inst}/spec", w.token,
                            body={"environment": "test", "spec": ORDER_SPEC})
    assert deployed.status in (200, 201)


def test_an_export_imports_unchanged_with_the_same_chain_and_roots(world):
    w = world
    clear_test_env(w)
    source = export_text(w, "prod")
    lines = [json.loads(t) for t in source.splitlines()]
    job = job_of(w, ops(w, "test", "import", {"events": lines}))
    assert job["status"] == "completed", job
    assert job["result"]["applied"] == len(lines) and job["result"]["invalid_count"] == 0
    assert job["progress"]["done"] == len(lines) and job["progress"]["total"] == len(lines)
    assert export_text(w, "test") == source          # byte for byte: hashes, times, order
    for agg_id in ("0RDER0001", "0RDER0005"):
        prod, test = merkle_root(w, "prod", "order", agg_id), merkle_root(w, "test", "order",
                                                                           agg_id)
        assert prod == test and prod["root_hex"]
        chain = w.stack.node("GET", f"/internal/instances/{w.inst}/test/audit/verify-chain/"
                                    f"order/{agg_id}").json
        assert chain["valid"] is True
    key = w.stack.call("POST", f"/api/instances/{w.inst}/keys", w.token,
                       body={"name": "r", "scope": "read", "environment": "test"}).json["key"]
    read = w.stack.call("GET", "/data/order/0RDER0003",
                        headers={"Authorization": f"Bearer {key}"}).json
    assert read["metadata"]["length"] == 4 and len(read["data"]["items"]) == 3
    # the same file again writes nothing
    with recording() as calls:
        again = job_of(w, ops(w, "test", "import", {"events": lines}))
    assert again["status"] == "completed"
    assert again["result"]["applied"] == 0 and again["result"]["already_present"] == len(lines)
    assert "BatchWriteItem" not in operations(calls)
    assert export_text(w, "test") == source


def test_a_crashed_import_resumes_to_exactly_the_files_events(world, monkeypatch):
    w = world
    clear_test_env(w)
    source = export_text(w, "prod")
    monkeypatch.setattr(loader, "CHUNK_STREAMS", 2)       # several chunks
    real = loader._write_heads
    calls = {"n": 0}

    def dies_on_the_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("the container was killed")
        return real(*args, **kwargs)
    monkeypatch.setattr(loader, "_write_heads", dies_on_the_third_chunk)
    answer = ops(w, "test", "import_jsonl", raw=source.encode())
    assert answer.status == 202
    consumer.drain()          # the crash: the message stays on the queue
    mid = w.stack.call("GET", answer.json["status_url"], w.token).json
    assert mid["status"] == "running" and 0 < mid["progress"]["done"] < len(source.splitlines())
    from chalicelib.store import jobs
    from chalicelib import features
    scope, job_id = f"{w.inst}#test", answer.json["job_id"]
    while jobs.run_slice(scope, job_id, features.JOB_KINDS) == "more":
        pass
    done = w.stack.call("GET", answer.json["status_url"], w.token).json
    assert done["status"] == "completed", done
    assert export_text(w, "test") == source


def test_bad_lines_are_named_and_by_default_nothing_is_applied(world):
    w = world
    clear_test_env(w)
    good = {"aggregate_type": "order", "aggregate_id": "0RDER0009", "event_type": "created",
            "data": {"customer": "C00000009", "total": 1}, "metadata": ACTOR}
    body = "\n".join([
        json.dumps(good),
        "{not json",
        json.dumps({**good, "event_type": "shipped"}),
        json.dumps({**good, "aggregate_id": "bad id!"}),
        json.dumps({**good, "data": {"customer": 5}}),
        json.dumps({**good, "event_type": "closed", "data": {}}),
    ]) + "\n"
    failed = job_of(w, ops(w, "test", "import_jsonl", raw=body.encode()))
    assert failed["status"] == "failed" and "4 of 6 lines" in failed["error"]
    assert [bad["line"] for bad in failed["result"]["invalid"]] == [2, 3, 4, 5]
    assert "shipped" in failed["result"]["invalid"][1]["error"]
    assert export_text(w, "test") == ""
    skipped = job_of(w, w.stack.call("POST", f"/api/instances/{w.inst}/ops/test/import_jsonl"
                                             "?skip_invalid=true", w.token, raw_body=body.encode(),
                                     headers={"Content-Type": "application/x-ndjson"}))
    assert skipped["status"] == "completed"
    assert skipped["result"]["applied"] == 2 and skipped["result"]["invalid_count"] == 4
    assert len(export_text(w, "test").splitlines()) == 2


def test_a_presigned_upload_feeds_import_jsonl(world):
    w = world
    clear_test_env(w)
    source = export_text(w, "prod")
    upload = ops(w, "test", "import_jsonl/uploads")
    assert upload.status == 201 and upload.json["method"] == "PUT"
    put = requests.put(upload.json["url"], data=source.encode(),
                       headers=upload.json["headers"], timeout=10)
    assert put.status_code == 200
    job = job_of(w, ops(w, "test", "import_jsonl", {"upload_id": upload.json["upload_id"]}))
    assert job["status"] == "completed" and export_text(w, "test") == source
    missing = ops(w, "test", "import_jsonl", {"upload_id": "up_0000000000000" + "0" * 16})
    assert missing.status == 404 and missing.json["error"] == "UPLOAD_NOT_FOUND"


def test_cold_start_loads_only_an_empty_environment(world):
    w = world
    clear_test_env(w)
    lines = [json.loads(t) for t in export_text(w, "prod").splitlines()]
    job = job_of(w, ops(w, "test", "cold_start", {"events": lines}))
    assert job["status"] == "completed" and job["kind"] == "cold_start"
    again = ops(w, "test", "cold_start", {"events": lines})
    assert again.status == 409 and again.json["error"] == "ENVIRONMENT_NOT_EMPTY"
    assert [e.action for e in AuditEntry.scan()].count("cold_start_requested") == 1


def test_inject_writes_test_data_now_and_never_into_prod(world):
    w = world
    event = {"aggregate_type": "order", "aggregate_id": "0RDER0100", "event_type": "created",
             "data": {"customer": "C00000100", "total": 3}, "metadata": ACTOR}
    refused = ops(w, "prod", "inject", {"events": [event]})
    assert refused.status == 403 and refused.json["error"] == "INJECT_NOT_ALLOWED"
    done = ops(w, "staging", "inject", {"events": [event, {**event, "event_type": "closed",
                                                           "data": {}}]})
    assert done.status == 201, done
    assert done.json["ok"] is True and done.json["count"] == 2 and done.json["streams"] == 1
    stored = list(StoredEvent.query(f"{w.inst}#staging#order#0RDER0100"))
    assert [e.event_type for e in stored] == ["created", "closed"]
    bad = ops(w, "staging", "inject", {"events": [event, {**event, "data": {"total": "x"}}]})
    assert bad.status == 422 and bad.json["details"][0]["path"] == "events[1]"
    internal = w.stack.node("POST", f"/internal/instances/{w.inst}/staging/inject",
                            body={"events": [{**event, "aggregate_id": "0RDER0101"}]})
    assert internal.status == 201


def test_load_routes_need_load_data(world):
    w = world
    viewer = w.stack.token_with(["view_instances", "manage_ops"])
    for tail, body in (("inject", {"events": [{}]}), ("import", {"events": [{}]}),
                       ("import_jsonl/uploads", None), ("cold_start", {"events": [{}]})):
        answer = ops(w, "staging", tail, body, token=viewer)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS", tail


def test_a_backup_restores_into_another_environment_line_for_line(world):
    w = world
    backup = w.stack.call("POST", f"/api/instances/{w.inst}/ops/prod/backups", w.token)
    consumer.drain()
    backup_id = backup.json["job_id"]
    restore = ops(w, "prod", f"backups/{backup_id}/restore", {"target_environment": "test"})
    job = job_of(w, restore)
    assert job["status"] == "completed", job
    assert job["kind"] == "restore_backup" and job["environment"] == "test"
    source = export_text(w, "prod")
    assert export_text(w, "test") == source     # the spec came along: test had none
    assert merkle_root(w, "test", "order", "0RDER0004") == merkle_root(w, "prod", "order",
                                                                       "0RDER0004")
    # into a non-empty environment only with replace, and never replacing prod
    again = ops(w, "prod", f"backups/{backup_id}/restore", {"target_environment": "test"})
    assert again.status == 409 and again.json["error"] == "RESTORE_NOT_ALLOWED"
    prod = ops(w, "prod", f"backups/{backup_id}/restore",
               {"target_environment": "prod", "replace": True})
    assert prod.status == 409 and prod.json["error"] == "RESTORE_NOT_ALLOWED"
    w.append("order", "0RDER0001", "closed", {}, env="staging")
    replaced = job_of(w, ops(w, "prod", f"backups/{backup_id}/restore",
                             {"target_environment": "staging", "replace": True}))
    assert replaced["status"] == "completed", replaced
    assert export_text(w, "staging") == source
    missing = ops(w, "prod", "backups/bk_00000000000000000000000000/restore",
                  {"target_environment": "test"})
    assert missing.status == 404


def test_events_go_in_batches_of_25(world):
    w = world
    clear_test_env(w)
    lines = [json.loads(t) for t in export_text(w, "prod").splitlines()]
    answer = ops(w, "test", "import", {"events": lines})
    with recording() as calls:
        consumer.drain()
    names = operations(calls)
    assert "PutItem" not in names
    assert names.count("BatchWriteItem") == (len(lines) + 24) // 25
    assert answer.status == 202


def test_an_append_waits_for_the_load_holding_its_stream(world, monkeypatch):
    """The load writes a chunk's events outside a transaction while it holds the streams:
    an append to one of them in that moment is refused (and retried by the client), and
    never lands between the load's events."""
    from chalicelib.platform.events import service as event_store
    w = world
    clear_test_env(w)
    key = w.stack.call("POST", f"/api/instances/{w.inst}/keys", w.token,
                       body={"name": "t", "scope": "write", "environment": "test"}).json["key"]
    monkeypatch.setattr(event_store, "RETRY_BUDGET_SECONDS", 0.2)
    lines = [json.loads(t) for t in export_text(w, "prod").splitlines()
             if json.loads(t)["aggregate_id"] == "0RDER0003"]
    real = loader._batch_put
    during = {}

    def append_meanwhile(events):
        during["answer"] = w.stack.call(
            "POST", "/data/order/0RDER0003/item_added", headers={"Authorization": f"Bearer {key}"},
            body={"data": {"sku": "LIVE", "qty": 1}, "metadata": ACTOR})
        return real(events)
    monkeypatch.setattr(loader, "_batch_put", append_meanwhile)
    job = job_of(w, ops(w, "test", "import", {"events": lines}))
    assert job["status"] == "completed"
    assert during["answer"].status == 503
    after = w.stack.call("POST", "/data/order/0RDER0003/item_added",
                         headers={"Authorization": f"Bearer {key}"},
                         body={"data": {"sku": "LIVE", "qty": 1}, "metadata": ACTOR})
    assert after.status == 201 and after.json["stream_id"] == f"order/0RDER0003@{len(lines)}"
    chain = w.stack.node("GET", f"/internal/instances/{w.inst}/test/audit/verify-chain/"
                                "order/0RDER0003").json
    assert chain["valid"] is True


def test_documented_refusals_of_the_load_routes(world):
    w = world
    line = {"aggregate_type": "order", "aggregate_id": "0RDER0100", "event_type": "created",
            "data": {"customer": "C00000100", "total": 3}, "metadata": ACTOR}
    # test has no spec: nothing can be validated, so nothing is loaded
    for tail in ("import", "cold_start", "inject"):
        answer = ops(w, "test", tail, {"events": [line]})
        assert answer.status == 404 and answer.json["error"] == "SPEC_NOT_FOUND", tail
    assert ops(w, "test", "import_jsonl/uploads").json["error"] == "SPEC_NOT_FOUND"
    # bodies that are not loads at all
    assert ops(w, "staging", "import", {"events": []}).status == 400
    assert ops(w, "staging", "import", {"rows": [line]}).status == 400
    assert ops(w, "staging", "import_jsonl", raw=b"  \n").status == 400
    empty_json = ops(w, "staging", "import_jsonl", raw=b"", content_type="application/json")
    assert empty_json.status == 400
    assert ops(w, "staging", "import_jsonl", {"upload_id": "nope"}).status == 400
    assert ops(w, "staging", "inject", {"events": [{"aggregate_type": "order"}]}).status == 400
    listing = w.stack.call("GET", f"/api/instances/{w.inst}/ops/staging/jobs?cursor=zzz",
                           w.token)
    assert listing.status == 400
    # nothing above started a job
    assert w.stack.call("GET", f"/api/instances/{w.inst}/ops/staging/jobs",
                        w.token).json["jobs"] == []


def test_only_a_completed_backup_restores(world):
    w = world
    backup = w.stack.call("POST", f"/api/instances/{w.inst}/ops/prod/backups", w.token)
    pending = ops(w, "prod", f"backups/{backup.json['job_id']}/restore",
                  {"target_environment": "test"})
    assert pending.status == 409 and pending.json["error"] == "BACKUP_NOT_COMPLETED"
    bad = ops(w, "prod", f"backups/{backup.json['job_id']}/restore",
              {"target_environment": "qa"})
    assert bad.status == 400


def test_a_chunk_whose_answer_was_lost_is_not_applied_twice(world, monkeypatch):
    """DynamoDB applied the chunk's transaction but the answer never came (a timeout):
    the job reads its own cursor back, sees the chunk done, and goes on; lines without a
    position are not appended a second time."""
    import contextlib

    from chalicelib.store import base
    w = world
    clear_test_env(w)
    lines = [{k: v for k, v in json.loads(t).items()
              if k not in ("position", "content_hash", "chain_hash")}
             for t in export_text(w, "prod").splitlines()]
    real = base.transact_write
    calls = {"n": 0}

    @contextlib.contextmanager
    def answer_lost_once():
        calls["n"] += 1
        with real() as tx:
            yield tx
        if calls["n"] == 3:   # after the request's and the hold's: heads and cursor
            raise ConnectionError("read timeout")
    monkeypatch.setattr(base, "transact_write", answer_lost_once)
    job = job_of(w, ops(w, "test", "import", {"events": lines}))
    assert job["status"] == "completed", job
    assert job["result"]["applied"] == len(lines)
    assert len(export_text(w, "test").splitlines()) == len(lines)
