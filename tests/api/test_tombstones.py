"""Tombstones (GDPR erasure) on the internal and ops surfaces: every route and every
documented refusal, then execution end to end in-process: markers in place of payloads,
the chain and earlier Merkle proofs still valid, reads and appends of an erased
aggregate, the cascade by actor and by target (transitive, with a loop), the audit
trail, the scheduled job twice, and a scan of every table and every S3 object for the
erased payloads after a checkpoint, a root checkpoint, a backup and an import made
before the execution."""
import base64
import gzip
import json

import pytest

from chalicelib import features
from chalicelib.core import clock
from chalicelib.platform.tombstones import execution
from chalicelib.store import aws
from chalicelib.store.buckets import bucket_name
from chalicelib.store.tables import TABLES, AuditEntry, StateSnapshot, StoredEvent, Tombstone
from local import consumer
from tests.api.test_integrity import rfc_verify_inclusion

ALICE, BOB = "A1CE00001", "B0B000001"
C1, C2, C3, C4 = "CMT000001", "CMT000002", "CMT000003", "CMT000004"
O1, O2, NOTE = "0RDER0001", "0RDER0002", "N0TE00001"
SECRETS = ["Zanzibar-Quokka-7731", "quokka.zanzibar@example.org", "Quokka-Renamed-4410",
           "Quokka-Bio-9902", "Quokka-Comment-One-5521", "Quokka-Comment-Two-5522",
           "Quokka-Order-One-6631", "Quokka-Order-Two-6632", "Quokka-Imported-8841",
           "Quokka-Refused-Line-9951"]
KEPT = ["Bob-Keeps-This-3301", "Note-Keeps-This-3302"]
HOURS = 3600

SPEC = {
    "aggregate_types": {
        "user": {"events": {
            "registered": {"schema": {"type": "object"},
                           "handler": [{"set": {"target": "name", "value": "$.data.name"}},
                                       {"set": {"target": "email", "value": "$.data.email"}}]},
            "renamed": {"schema": {"type": "object"},
                        "handler": [{"set": {"target": "name", "value": "$.data.name"}}]},
            "bio_set": {"schema": {"type": "object"},
                        "handler": [{"set": {"target": "bio", "value": "$.data.bio"}}]},
        }},
        "comment": {"events": {
            "posted": {"schema": {"type": "object"},
                       "handler": [{"append": {"target": "texts", "value": "$.data.text"}}]},
        }, "onTombstone": {"actor": "cascade", "target": "preserve"}},
        "order": {"events": {
            "placed": {"schema": {"type": "object"},
                       "handler": [{"set": {"target": "note", "value": "$.data.note"}}]},
        }, "onTombstone": {"actor": "preserve", "target": "cascade"}},
        "note": {"events": {
            "written": {"schema": {"type": "object"},
                        "handler": [{"set": {"target": "text", "value": "$.data.text"}}]},
        }},
    },
    "agent_types": ["user", "comment"],
    "target_types": ["user", "order"],
}


class World:
    def __init__(self, stack):
        self.stack = stack
        self.token = stack.operator_token()
        self.inst = stack.call("POST", "/api/instances", self.token,
                               body={"name": "gdpr"}).json["id"]
        for env in ("prod", "staging"):
            deployed = stack.call("POST", f"/api/instances/{self.inst}/spec", self.token,
                                  body={"environment": env, "spec": SPEC})
            assert deployed.status == 201, deployed
        self.key = stack.call("POST", f"/api/instances/{self.inst}/keys", self.token,
                              body={"name": "w", "scope": "write",
                                    "environment": "prod"}).json["key"]
        self.ops = f"/api/instances/{self.inst}/ops/prod"
        self.internal = f"/internal/instances/{self.inst}/prod"

    def relogin(self):
        self.token = self.stack.operator_token()

    def data(self, method, path, body=None):
        return self.stack.call(method, "/data" + path, body=body,
                               headers={"Authorization": f"Bearer {self.key}"})

    def append(self, agg, agg_id, event, data, actor, target=None):
        metadata = {"actor": {"type": actor[0], "id": actor[1]}}
        if target:
            metadata["target"] = {"type": target[0], "id": target[1]}
        answer = self.data("POST", f"/{agg}/{agg_id}/{event}",
                           {"data": data, "metadata": metadata})
        assert answer.status == 201, answer
        return answer

    def op(self, method, tail, body=None, token=None):
        return self.stack.call(method, self.ops + tail, token or self.token, body=body)

    def node(self, method, tail, body=None):
        return self.stack.node(method, self.internal + tail, body=body)


REQUEST = {"reason": "erasure request of the data subject", "legal_basis": "GDPR Art. 17(1)(a)",
           "requested_by": "dpo-ticket-4711"}


@pytest.fixture
def world(stack, frozen_clock):
    w = World(stack)
    user = ("user", ALICE)
    w.append("user", ALICE, "registered", {"name": SECRETS[0], "email": SECRETS[1]}, user)
    w.append("user", ALICE, "renamed", {"name": SECRETS[2]}, user)
    # a state past 8 KB: kept in a StateSnapshot
    w.append("user", ALICE, "bio_set", {"bio": SECRETS[3] + "x" * 9000}, user)
    w.append("comment", C1, "posted", {"text": SECRETS[4]}, user)
    w.append("comment", C2, "posted", {"text": SECRETS[5]}, ("comment", C1))
    w.append("comment", C1, "posted", {"text": "a reply"}, ("comment", C2))     # a loop
    w.append("comment", C3, "posted", {"text": KEPT[0]}, ("user", BOB))
    w.append("order", O1, "placed", {"note": SECRETS[6]}, ("user", BOB), ("user", ALICE))
    w.append("order", O2, "placed", {"note": SECRETS[7]}, ("user", BOB), ("order", O1))
    w.append("note", NOTE, "written", {"text": KEPT[1]}, user)        # note preserves
    clock.advance(60)
    return w


def request(w, agg_type="user", agg_id=ALICE, body=None, surface="ops"):
    body = REQUEST if body is None else body
    if surface == "ops":
        return w.op("POST", f"/tombstone/{agg_type}/{agg_id}", body)
    return w.node("POST", f"/tombstone/{agg_type}/{agg_id}", body)


def audits(action):
    return [e for e in AuditEntry.scan() if e.action == action]


# --- routes -----------------------------------------------------------------------------

def test_request_answers_the_pending_tombstone_with_its_cascade(world):
    w = world
    answer = request(w)
    assert answer.status == 201, answer
    t = answer.json
    assert t["id"].startswith("ts_") and len(t["id"]) == 3 + 13 + 12
    assert t["status"] == "pending" and t["aggregate_type"] == "user"
    assert t["grace_period_hours"] == 72
    assert clock.parse_iso(t["executable_at"]) - clock.parse_iso(t["requested_at"]) == 72 * HOURS
    assert t["cascade"]["complete"] is True and t["cascade"]["source"] == "preview"
    assert [(a["aggregate_type"], a["aggregate_id"]) for a in t["cascade"]["aggregates"]] == [
        ("user", ALICE), ("comment", C1), ("order", O1), ("comment", C2), ("order", O2)]
    assert t["legal_basis"] == REQUEST["legal_basis"] and t["requested_by"] == "dpo-ticket-4711"
    [entry] = audits("tombstone_requested")
    assert entry.details["tombstone_id"] == t["id"] and entry.target == f"{w.inst}/prod/user/{ALICE}"
    assert "reason" not in entry.details
    # the same from the internal surface, and listed and read on both
    assert w.node("GET", f"/tombstones/{t['id']}").json == w.op("GET", f"/tombstones/{t['id']}").json
    assert [x["id"] for x in w.node("GET", "/tombstones").json["tombstones"]] == [t["id"]]


def test_a_longer_grace_period_may_be_asked_never_a_shorter_one(world):
    w = world
    longer = request(w, body={**REQUEST, "grace_period_hours": 100})
    assert longer.status == 201 and longer.json["grace_period_hours"] == 100
    shorter = request(w, "user", BOB, {**REQUEST, "grace_period_hours": 71.5})
    assert shorter.status == 422 and shorter.json["error"] == "GRACE_PERIOD_TOO_SHORT"
    assert shorter.json["details"][0]["path"] == "grace_period_hours"
    assert Tombstone.count(f"{w.inst}#prod") == 1


def test_refusals_of_a_request(world):
    w = world
    unknown = request(w, "planet", ALICE)
    assert unknown.status == 422 and unknown.json["error"] == "UNKNOWN_AGGREGATE_TYPE"
    bad_id = request(w, "user", "not-an-id!")
    assert bad_id.status == 422 and bad_id.json["error"] == "INVALID_ID"
    missing = request(w, body={"reason": "x"})
    assert missing.status == 400 and missing.json["error"] == "VALIDATION_ERROR"
    assert request(w).status == 201
    twice = request(w, surface="internal")
    assert twice.status == 409 and twice.json["error"] == "TOMBSTONE_EXISTS"
    no_spec = w.stack.call("POST", f"/api/instances/{w.inst}/ops/test/tombstone/user/{ALICE}",
                           w.token, body=REQUEST)
    assert no_spec.status == 404 and no_spec.json["error"] == "SPEC_NOT_FOUND"


def test_unknown_ids_are_404(world):
    w = world
    for method, tail in (("GET", ""), ("DELETE", ""), ("POST", "/execute")):
        for tombstone_id in ("ts_00000000000000000000000000", "nope"):
            answer = w.op(method, f"/tombstones/{tombstone_id}{tail}")
            assert answer.status == 404 and answer.json["error"] == "TOMBSTONE_NOT_FOUND"


def test_erase_data_is_required_on_the_ops_surface(world):
    w = world
    token = w.stack.token_with(["view_instances", "manage_ops", "load_data"])
    for method, tail, body in (("POST", f"/tombstone/user/{ALICE}", REQUEST),
                               ("GET", "/tombstones", None),
                               ("GET", "/tombstones/ts_00000000000000000000000000", None),
                               ("DELETE", "/tombstones/ts_00000000000000000000000000", None),
                               ("POST", "/tombstones/ts_00000000000000000000000000/execute",
                                None)):
        answer = w.op(method, tail, body, token=token)
        assert answer.status == 403 and answer.json["error"] == "INSUFFICIENT_PERMISSIONS"
    eraser = w.stack.token_with(["view_instances", "erase_data"])
    assert w.op("GET", "/tombstones", token=eraser).status == 200


def test_cancel_while_pending_only(world):
    w = world
    t = request(w).json
    cancelled = w.op("DELETE", f"/tombstones/{t['id']}")
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancelled_at"] is not None
    again = w.node("DELETE", f"/tombstones/{t['id']}")
    assert again.status == 409 and again.json["error"] == "TOMBSTONE_NOT_PENDING"
    assert again.json["status"] == "cancelled"
    late = w.op("POST", f"/tombstones/{t['id']}/execute")
    assert late.status == 409 and late.json["error"] == "TOMBSTONE_NOT_PENDING"
    [entry] = audits("tombstone_cancelled")
    assert entry.details["tombstone_id"] == t["id"]
    # the aggregate may be tombstoned again once cancelled; nothing was erased
    assert request(w).status == 201
    assert w.data("GET", f"/user/{ALICE}").json["data"]["name"] == SECRETS[2]
    clock.advance(80 * HOURS)
    assert features.run("tombstones")["claimed"] == 1    # the new one only


def test_execute_before_the_grace_period_is_409_with_the_time(world):
    w = world
    t = request(w).json
    clock.advance(72 * HOURS - 10)
    w.relogin()
    early = w.op("POST", f"/tombstones/{t['id']}/execute")
    assert early.status == 409 and early.json["error"] == "TOMBSTONE_GRACE_PERIOD"
    assert early.json["executable_at"] == t["executable_at"]
    assert features.run("tombstones") == {"claimed": 0, "resent": 0}
    assert w.op("GET", f"/tombstones/{t['id']}").json["status"] == "pending"
    clock.advance(10)
    started = w.op("POST", f"/tombstones/{t['id']}/execute")
    assert started.status == 202 and started.json["status"] == "executing"
    assert started.json["started_by"] == "admin@example.com"
    twice = w.node("POST", f"/tombstones/{t['id']}/execute")
    assert twice.status == 409 and twice.json["error"] == "TOMBSTONE_NOT_PENDING"
    cancel = w.op("DELETE", f"/tombstones/{t['id']}")
    assert cancel.status == 409 and cancel.json["error"] == "TOMBSTONE_NOT_PENDING"
    consumer.drain()
    done = w.op("GET", f"/tombstones/{t['id']}").json
    assert done["status"] == "executed" and done["executed_at"] is not None
    assert done["streams_erased"] == 5 and done["events_erased"] == 8
    assert done["progress"] == {"phase": "done", "streams_total": 5, "streams_done": 5,
                                "events_erased": 8}
    # a data load is refused too, and writes nothing
    line = {"aggregate_type": "user", "aggregate_id": ALICE, "event_type": "renamed",
            "data": {"name": "again"}, "metadata": {"actor": {"type": "user", "id": ALICE}}}
    load = w.op("POST", "/import", {"events": [line]})
    assert load.status == 202, load
    consumer.drain()
    job = w.stack.call("GET", load.json["status_url"], w.token).json
    assert job["status"] == "failed" and "was erased by tombstone" in job["error"], job
    assert w.data("GET", f"/user/{ALICE}/length").json["length"] == 3


def test_list_filters_and_pages(world):
    w = world
    ids = []
    for agg_type, agg_id in (("comment", C3), ("comment", C4), ("user", ALICE)):
        ids.append(request(w, agg_type, agg_id).json["id"])
        clock.advance(1)
    w.op("DELETE", f"/tombstones/{ids[0]}")
    page = w.op("GET", "/tombstones?limit=2").json
    assert [t["id"] for t in page["tombstones"]] == ids[::-1][:2] and page["next_cursor"]
    rest = w.op("GET", f"/tombstones?limit=2&cursor={page['next_cursor']}").json
    assert [t["id"] for t in rest["tombstones"]] == [ids[0]] and rest["next_cursor"] is None
    pending = w.op("GET", "/tombstones?status=pending").json["tombstones"]
    assert sorted(t["id"] for t in pending) == sorted(ids[1:])
    comments = w.op("GET", "/tombstones?aggregate_type=comment").json["tombstones"]
    assert sorted(t["id"] for t in comments) == sorted(ids[:2])
    bad = w.op("GET", "/tombstones?cursor=zzz")
    assert bad.status == 400 and bad.json["error"] == "VALIDATION_ERROR"


# --- execution --------------------------------------------------------------------------

def scan_tables():
    """Every item of every table, as the bytes of its JSON."""
    client = aws.client("dynamodb")
    out = []
    for model in TABLES:
        pages = client.get_paginator("scan").paginate(TableName=model.Meta.table_name)
        for page in pages:
            for item in page["Items"]:
                out.append((model.Meta.table_name, json.dumps(item, default=str)))
    return out


def scan_objects():
    """Every S3 object of every bucket, decompressed when it is gzip."""
    s3 = aws.client("s3")
    out = []
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                raw = s3.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
                if raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                out.append((f"{name}/{obj['Key']}", raw.decode("utf-8", "replace")))
    return out


def found(strings):
    hits = []
    for where, text in scan_tables() + scan_objects():
        for s in strings:
            if s in text:
                hits.append((s, where))
    return hits


def copies_before(w):
    """A checkpoint, a root checkpoint (user and comment), a backup and an import, all
    holding the payloads before the erasure."""
    for agg_type, agg_id in (("user", ALICE), ("comment", C1)):
        made = w.op("POST", "/checkpoints", {"aggregate_type": agg_type, "aggregate_id": agg_id})
        assert made.status == 201, made
    for agg_type in ("user", "comment"):
        assert w.op("POST", "/root-checkpoints", {"aggregate_type": agg_type}).status == 202
    line = {"aggregate_type": "comment", "aggregate_id": C4, "event_type": "posted",
            "data": {"text": SECRETS[8]}, "metadata": {"actor": {"type": "user", "id": ALICE}}}
    refused = {**line, "aggregate_id": "CMT000005", "data": SECRETS[9]}   # not an object
    imported = w.op("POST", "/import?skip_invalid=true", {"events": [line, refused]})
    assert imported.status == 202, imported
    aws.client("s3").create_bucket(Bucket="gdpr-offsite")      # the backups' offsite copy
    put = w.stack.call("PUT", f"/api/instances/{w.inst}/backup_settings", w.token,
                       body={"offsite": {"bucket": "gdpr-offsite", "prefix": "vault/"}})
    assert put.status == 200, put
    backup = w.op("POST", "/backups")
    assert backup.status == 202, backup
    consumer.drain()
    backup = w.op("GET", f"/backups/{backup.json['job_id']}").json
    assert backup["status"] == "completed", backup
    assert StateSnapshot.count() >= 1
    assert backup["offsite_status"] == "completed"
    assert any(where.startswith("gdpr-offsite/") for _, where in found(SECRETS[:1]))
    assert {s for s, _ in found(SECRETS)} == set(SECRETS)     # everywhere before
    return backup


def proof(w, agg_type, agg_id, index):
    return w.data("GET", f"/{agg_type}/{agg_id}/audit/merkle-proof/{index}").json


def verifies(p):
    b64 = base64.b64decode
    return rfc_verify_inclusion(p["leafIdx"], p["treeSize"], b64(p["leafHash"]),
                                [b64(x) for x in p["proof"]], b64(p["root"]))


def test_execution_erases_every_copy_and_keeps_the_proofs(world):
    w = world
    backup = copies_before(w)
    proofs = {(agg_type, agg_id, i): proof(w, agg_type, agg_id, i)
              for agg_type, agg_id, n in (("user", ALICE, 3), ("comment", C1, 2),
                                          ("comment", C4, 1)) for i in range(n)}
    assert all(verifies(p) for p in proofs.values())
    lengths = {agg: w.data("GET", f"/{agg[0]}/{agg[1]}/length").json["length"]
               for agg in (("user", ALICE), ("comment", C1), ("comment", C2), ("order", O1),
                           ("order", O2), ("comment", C4))}
    t = request(w).json
    clock.advance(72 * HOURS)
    w.relogin()
    assert features.run("tombstones") == {"claimed": 1, "resent": 0}
    assert features.run("tombstones") == {"claimed": 0, "resent": 0}     # twice: once
    # two copies of the message: one holds the lease, the other does nothing
    execution.enqueue(f"{w.inst}#prod", t["id"])
    consumer.drain()
    done = w.op("GET", f"/tombstones/{t['id']}").json
    assert done["status"] == "executed", done
    assert done["started_by"] == "system:scheduler"
    erased = [("user", ALICE), ("comment", C1), ("order", O1), ("comment", C4),
              ("comment", C2), ("order", O2)]
    assert sorted((a["aggregate_type"], a["aggregate_id"])
                  for a in done["cascade"]["aggregates"]) == sorted(erased)
    assert done["streams_erased"] == 6 and done["events_erased"] == 9
    assert done["copies"]["checkpoints_deleted"] == 2
    assert done["copies"]["snapshots_deleted"] >= 1
    assert done["copies"]["root_checkpoints_rewritten"] == 2
    assert done["copies"]["backups_rewritten"] == 1
    assert done["copies"]["offsite_backups_rewritten"] == 1
    assert done["copies"]["job_reports_scrubbed"] == 1
    assert features.run("tombstones") == {"claimed": 0, "resent": 0}
    assert consumer.drain() == 0

    # the acceptance test: no byte of the erased payloads anywhere; the rest is kept
    assert found(SECRETS) == []
    assert {s for s, _ in found(KEPT)} == set(KEPT)

    # the streams keep their length, chain and every proof taken before
    for (agg_type, agg_id), n in lengths.items():
        assert w.data("GET", f"/{agg_type}/{agg_id}/length").json["length"] == n
        chain = w.data("GET", f"/{agg_type}/{agg_id}/audit/verify-chain").json
        assert chain["valid"] is True and chain["checked"] == n
    for (agg_type, agg_id, i), before in proofs.items():
        after = proof(w, agg_type, agg_id, i)
        assert after["root"] == before["root"] and after == before
        assert verifies(before)

    # reads answer as documented
    gone = w.data("GET", f"/user/{ALICE}")
    assert gone.status == 410 and gone.json["code"] == "AGGREGATE_TOMBSTONED"
    assert gone.json["ok"] is False and gone.json["tombstone_id"] == t["id"]
    assert gone.json["tombstoned_at"] == done["started_at"]
    past = w.data("GET", f"/user/{ALICE}?at={clock.now()}")
    assert past.status == 410
    events = w.data("GET", f"/user/{ALICE}/events").json["events"]
    assert len(events) == 3
    assert all(e["data"] is None and e["tombstoned"] is True and e["metadata"] == {}
               for e in events)
    stored = StoredEvent.get(f"{w.inst}#prod#user#{ALICE}", 0)
    assert stored.tombstoned == {"_was_tombstoned": True, "content_hash": stored.content_hash,
                                 "tombstone_id": t["id"], "tombstoned_at": done["started_at"]}
    assert w.data("GET", f"/comment/{C3}").json["data"]["texts"] == [KEPT[0]]
    assert w.data("GET", f"/note/{NOTE}").json["data"]["text"] == KEPT[1]

    # no appends: erased data is not written again under those ids
    for agg_type, agg_id in (("user", ALICE), ("order", O2)):
        refused = w.data("POST", f"/{agg_type}/{agg_id}/" + ("renamed" if agg_type == "user"
                                                            else "placed"),
                         {"data": {}, "metadata": {"actor": {"type": "user", "id": BOB}}})
        assert refused.status == 410 and refused.json["code"] == "AGGREGATE_TOMBSTONED"
    assert w.data("GET", f"/user/{ALICE}/length").json["length"] == 3

    # the audit trail says what, when, by whom, on which basis, and nothing personal
    [entry] = audits("tombstone_executed")
    assert entry.admin == "system:scheduler"
    d = entry.details
    assert d["tombstone_id"] == t["id"] and d["legal_basis"] == REQUEST["legal_basis"]
    assert d["requested_by"] == "dpo-ticket-4711" and d["streams_erased"] == 6
    assert d["events_erased"] == 9 and d["aggregates_total"] == 6
    assert len(audits("tombstone_execution_started")) == 1
    text = json.dumps([e.attribute_values for e in AuditEntry.scan()], default=str)
    assert not any(s in text for s in SECRETS)

    # the rewritten backup restores, and what was erased stays erased
    restore = w.op("POST", f"/backups/{backup['id']}/restore",
                   {"target_environment": "staging"})
    assert restore.status == 202, restore
    consumer.drain()
    job = w.stack.call("GET", restore.json["status_url"], w.token).json
    assert job["status"] == "completed", job
    staging = w.stack.node("GET", f"/internal/instances/{w.inst}/staging/export").text
    assert not any(s in staging for s in SECRETS) and KEPT[0] in staging
    closed = w.stack.call("POST", f"/data/user/{ALICE}/renamed", body={
        "data": {}, "metadata": {"actor": {"type": "user", "id": BOB}}}, headers={
        "Authorization": "Bearer " + w.stack.call(
            "POST", f"/api/instances/{w.inst}/keys", w.token,
            body={"name": "s", "scope": "write", "environment": "staging"}).json["key"]})
    assert closed.status == 410      # the restored copy's head is closed too
    head = w.stack.call("POST", f"/api/instances/{w.inst}/ops/staging/checkpoints", w.token,
                        body={"aggregate_type": "user", "aggregate_id": ALICE})
    assert head.status == 201 and head.json["state_size"] == 2     # "{}"
    restored = w.stack.call("POST", f"/api/instances/{w.inst}/ops/staging/checkpoints/"
                                    f"{head.json['id']}/restore", w.token, body={})
    assert restored.status == 410 and restored.json["error"] == "AGGREGATE_TOMBSTONED"
    # a root checkpoint written after the erasure shows the aggregate as erased
    assert w.op("POST", "/root-checkpoints", {"aggregate_type": "user"}).status == 202
    consumer.drain()
    latest = w.op("GET", "/root-checkpoints/latest?aggregate_type=user").json
    raw = aws.client("s3").get_object(Bucket=bucket_name("backups"),
                                      Key=latest["s3_key"])["Body"].read()
    [line] = [json.loads(x) for x in gzip.decompress(raw).splitlines()]
    assert line["id"] == ALICE and line["state"] == {} and line["tombstoned"] is True
    assert found(SECRETS) == []


def test_an_execution_resumes_from_its_cursor_after_a_crash(world, monkeypatch):
    w = world
    t = request(w).json
    clock.advance(72 * HOURS)
    calls = {"n": 0}
    real = execution.finish_stream

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)
    monkeypatch.setattr(execution, "finish_stream", crash_once)
    features.run("tombstones")
    consumer.drain()       # the crashed slice's message comes back (local visibility)
    t_after = Tombstone.get(f"{w.inst}#prod", t["id"])
    if t_after.status == "executing":     # the lease of the crashed slice runs out
        clock.advance(execution.LEASE_SECONDS + 1)
        assert features.run("tombstones")["resent"] == 1
        consumer.drain()
    done = w.node("GET", f"/tombstones/{t['id']}").json
    assert done["status"] == "executed" and done["streams_erased"] == 5
    assert done["events_erased"] == 8
    assert found(SECRETS[:8]) == []


def test_a_slice_while_another_holds_the_lease_does_nothing(world):
    w = world
    t = request(w).json
    clock.advance(72 * HOURS)
    w.relogin()
    assert w.op("POST", f"/tombstones/{t['id']}/execute").status == 202
    item = Tombstone.get(f"{w.inst}#prod", t["id"])
    item.update(actions=[Tombstone.lease_owner.set("another"),
                         Tombstone.lease_until.set(clock.now() + 60)])
    message = {"task": execution.TASK, "scope": item.scope, "id": item.id}
    assert execution.run(message) == "busy"
    assert w.op("GET", f"/tombstones/{t['id']}").json["events_erased"] == 0
    refused = w.data("POST", f"/user/{ALICE}/renamed", {     # closed while executing
        "data": {}, "metadata": {"actor": {"type": "user", "id": ALICE}}})
    assert refused.status == 410 and refused.json["tombstone_status"] == "executing"
    clock.advance(61)             # the other slice died: its lease runs out
    assert execution.run(message) == "executed"
    assert execution.run(message) == "skipped"
    consumer.drain()
    assert w.op("GET", f"/tombstones/{t['id']}").json["status"] == "executed"
