"""A tombstone end to end over HTTP against the `make run` stack: payloads written, copied
into a checkpoint, root checkpoints, a backup and an import; the tombstone requested,
refused before its grace period, executed once the stack's clock has moved 72 hours
(CLOCK_OFFSET_FILE, honoured only against the embedded AWS), its execution run by the
stack's own queue consumer; then every table and every S3 object of the embedded AWS is
scanned for the payloads' bytes: none is left."""
from __future__ import annotations

import gzip
import json
import re
import time

import boto3
import pytest
import requests

from testing.e2e import ADMIN_EMAIL, ADMIN_PASSWORD, NODE_SECRET, running_stack
from tests.api.test_tombstones import (
    ALICE,
    BOB,
    C1,
    C2,
    C3,
    KEPT,
    NOTE,
    O1,
    O2,
    REQUEST,
    SECRETS,
    SPEC,
)

HOURS = 3600


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tombstone")
    offset = tmp / "clock-offset"
    offset.write_text("0")
    with running_stack(tmp, CLOCK_OFFSET_FILE=str(offset)) as running:
        running.offset_file = offset
        yield running


def login(stack) -> dict:
    token = requests.post(stack.url + "/api/login", timeout=30,
                          json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    return {"Authorization": f"Bearer {token['admin_token']}"}


def moto(stack, service: str):
    port = re.search(r"Embedded AWS \(moto\): http://127\.0\.0\.1:(\d+)", stack.output()).group(1)
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def everything(stack) -> list[tuple[str, str]]:
    """Every item of every table and every object of every bucket of the embedded AWS."""
    out = []
    dynamodb, s3 = moto(stack, "dynamodb"), moto(stack, "s3")
    for name in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            out += [(name, json.dumps(item, default=str)) for item in page["Items"]]
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                raw = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
                if raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                out.append((f"{bucket['Name']}/{obj['Key']}", raw.decode("utf-8", "replace")))
    return out


def found(stack, strings) -> list[tuple[str, str]]:
    return [(s, where) for where, text in everything(stack) for s in strings if s in text]


def wait_for(fetch, done, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.3)
    raise AssertionError(f"not done within {timeout} s: {value}")


def test_a_tombstone_erases_every_byte_of_the_payloads(stack):
    auth = login(stack)
    url = stack.url
    inst = requests.post(url + "/api/instances", json={"name": "gdpr"}, headers=auth,
                         timeout=30).json()["id"]
    ops = f"{url}/api/instances/{inst}/ops/prod"
    internal = f"{url}/internal/instances/{inst}/prod"
    node = {"X-Node-Secret": NODE_SECRET}
    assert requests.post(f"{url}/api/instances/{inst}/spec", headers=auth, timeout=30,
                         json={"environment": "prod", "spec": SPEC}).status_code == 201
    key = requests.post(f"{url}/api/instances/{inst}/keys", headers=auth, timeout=30,
                        json={"name": "w", "scope": "write", "environment": "prod"}).json()["key"]
    data = {"Authorization": f"Bearer {key}"}

    def append(agg, agg_id, event, payload, actor, target=None):
        metadata = {"actor": {"type": actor[0], "id": actor[1]}}
        if target:
            metadata["target"] = {"type": target[0], "id": target[1]}
        answer = requests.post(f"{url}/data/{agg}/{agg_id}/{event}", headers=data, timeout=30,
                               json={"data": payload, "metadata": metadata})
        assert answer.status_code == 201, answer.text
    user = ("user", ALICE)
    append("user", ALICE, "registered", {"name": SECRETS[0], "email": SECRETS[1]}, user)
    append("user", ALICE, "renamed", {"name": SECRETS[2]}, user)
    append("user", ALICE, "bio_set", {"bio": SECRETS[3] + "x" * 9000}, user)
    append("comment", C1, "posted", {"text": SECRETS[4]}, user)
    append("comment", C2, "posted", {"text": SECRETS[5]}, ("comment", C1))
    append("comment", C1, "posted", {"text": "a reply"}, ("comment", C2))
    append("comment", C3, "posted", {"text": KEPT[0]}, ("user", BOB))
    append("order", O1, "placed", {"note": SECRETS[6]}, ("user", BOB), ("user", ALICE))
    append("order", O2, "placed", {"note": SECRETS[7]}, ("user", BOB), ("order", O1))
    append("note", NOTE, "written", {"text": KEPT[1]}, user)

    # copies made before: a checkpoint, root checkpoints, a backup, an import
    made = requests.post(ops + "/checkpoints", headers=auth, timeout=30,
                         json={"aggregate_type": "user", "aggregate_id": ALICE})
    assert made.status_code == 201, made.text
    jobs = []
    for agg_type in ("user", "comment"):
        answer = requests.post(ops + "/root-checkpoints", headers=auth, timeout=30,
                               json={"aggregate_type": agg_type})
        assert answer.status_code == 202, answer.text
        jobs.append(answer.json()["status_url"])
    line = {"aggregate_type": "comment", "aggregate_id": "CMT000004", "event_type": "posted",
            "data": {"text": SECRETS[8]}, "metadata": {"actor": {"type": "user", "id": ALICE}}}
    refused = {**line, "aggregate_id": "CMT000005", "data": SECRETS[9]}   # not an object
    answer = requests.post(ops + "/import?skip_invalid=true", headers=auth, timeout=30,
                           json={"events": [line, refused]})
    assert answer.status_code == 202, answer.text
    jobs.append(answer.json()["status_url"])
    for status_url in jobs:
        job = wait_for(lambda: requests.get(url + status_url, headers=auth, timeout=30).json(),
                       lambda j: j["status"] in ("completed", "failed"))
        assert job["status"] == "completed", job
    backup = requests.post(ops + "/backups", headers=auth, timeout=30).json()
    backup = wait_for(lambda: requests.get(f"{ops}/backups/{backup['job_id']}", headers=auth,
                                           timeout=30).json(),
                      lambda b: b["status"] in ("completed", "failed"))
    assert backup["status"] == "completed", backup
    assert {s for s, _ in found(stack, SECRETS)} == set(SECRETS)
    proof_before = requests.get(f"{url}/data/user/{ALICE}/audit/merkle-proof/1", headers=data,
                                timeout=30).json()

    # requested over the internal surface; refused before the grace period
    requested = requests.post(f"{internal}/tombstone/user/{ALICE}", headers=node, timeout=30,
                              json=REQUEST)
    assert requested.status_code == 201, requested.text
    t = requested.json()
    early = requests.post(f"{ops}/tombstones/{t['id']}/execute", headers=auth, timeout=30)
    assert early.status_code == 409 and early.json()["executable_at"] == t["executable_at"]

    # 72 hours later (the stack's clock), executed by the stack's own consumer
    stack.offset_file.write_text(str(72 * HOURS + 60))
    time.sleep(0.5)
    auth = login(stack)
    started = requests.post(f"{ops}/tombstones/{t['id']}/execute", headers=auth, timeout=30)
    assert started.status_code == 202, started.text
    done = wait_for(lambda: requests.get(f"{internal}/tombstones/{t['id']}", headers=node,
                                         timeout=30).json(),
                    lambda x: x["status"] in ("executed", "failed"))
    assert done["status"] == "executed", done
    assert done["streams_erased"] == 6 and done["events_erased"] == 9

    gone = requests.get(f"{url}/data/user/{ALICE}", headers=data, timeout=30)
    assert gone.status_code == 410 and gone.json()["code"] == "AGGREGATE_TOMBSTONED"
    assert requests.get(f"{url}/data/user/{ALICE}/length", headers=data,
                        timeout=30).json()["length"] == 3
    chain = requests.get(f"{url}/data/user/{ALICE}/audit/verify-chain", headers=data,
                         timeout=30).json()
    assert chain["valid"] is True and chain["checked"] == 3
    assert requests.get(f"{url}/data/user/{ALICE}/audit/merkle-proof/1", headers=data,
                        timeout=30).json() == proof_before
    refused = requests.post(f"{url}/data/user/{ALICE}/renamed", headers=data, timeout=30,
                            json={"data": {}, "metadata": {"actor": {"type": "user",
                                                                     "id": BOB}}})
    assert refused.status_code == 410

    # not one byte of the payloads is left in any table or object; the rest is
    assert found(stack, SECRETS) == []
    assert {s for s, _ in found(stack, KEPT)} == set(KEPT)
