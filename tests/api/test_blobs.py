"""Seed 000's blobs on the internal surface, and their listing on the ops surface."""
import base64
import hashlib

import pytest

from chalicelib.platform.blobs.service import MAX_BYTES
from chalicelib.store import aws
from chalicelib.store.buckets import bucket_name

WASM = b"\x00asm\x01\x00\x00\x00" + bytes(range(256))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def stored_keys():
    s3 = aws.client("s3")
    return sorted(o["Key"] for o in
                  s3.list_objects_v2(Bucket=bucket_name("blobs")).get("Contents", []))


@pytest.fixture
def env(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    return stack, token, inst, f"/internal/instances/{inst}/prod/blobs"


def test_round_trip(env):
    stack, _, inst, base = env
    up = stack.node("POST", base, body={"name": "mod.wasm", "content_type": "application/wasm",
                                        "data": b64(WASM)})
    assert up.status == 201, up
    sha = hashlib.sha256(WASM).hexdigest()
    meta = {"name": "mod.wasm", "size": len(WASM), "content_type": "application/wasm",
            "sha256": sha, "created_at": up.json["created_at"]}
    assert up.json == meta
    assert up.json["created_at"].endswith("Z")
    assert stored_keys() == [f"{inst}/prod/mod.wasm"]

    head = aws.client("s3").head_object(Bucket=bucket_name("blobs"), Key=f"{inst}/prod/mod.wasm")
    assert head["Metadata"]["sha256"] == sha and head["ContentType"] == "application/wasm"

    listed = stack.node("GET", base)
    assert listed.status == 200, listed
    assert listed.json == {"blobs": [meta], "next_cursor": None}

    got = stack.node("GET", f"{base}/mod.wasm")
    assert got.status == 200, got
    assert got.json == {**meta, "data": b64(WASM)}
    assert base64.b64decode(got.json["data"]) == WASM

    gone = stack.node("DELETE", f"{base}/mod.wasm")
    assert gone.status == 200 and gone.json == {"deleted": True, **meta}
    assert stored_keys() == []
    assert stack.node("GET", base).json == {"blobs": [], "next_cursor": None}
    again = stack.node("DELETE", f"{base}/mod.wasm")
    assert again.status == 404 and again.json["error"] == "BLOB_NOT_FOUND"


def test_same_name_replaces_with_200_and_default_content_type(env):
    stack, _, _, base = env
    assert stack.node("POST", base, body={"name": "cfg", "data": b64(b"one")}).status == 201
    second = stack.node("POST", base, body={"name": "cfg", "data": b64(b"two!")})
    assert second.status == 200, second
    assert second.json["content_type"] == "application/octet-stream"
    assert second.json["sha256"] == hashlib.sha256(b"two!").hexdigest()
    got = stack.node("GET", f"{base}/cfg").json
    assert base64.b64decode(got["data"]) == b"two!" and got["size"] == 4
    assert len(stack.node("GET", base).json["blobs"]) == 1


def test_empty_blob_and_exactly_the_limit(env):
    stack, _, _, base = env
    empty = stack.node("POST", base, body={"name": "empty", "data": ""})
    assert empty.status == 201 and empty.json["size"] == 0
    assert empty.json["sha256"] == hashlib.sha256(b"").hexdigest()
    big = bytes(MAX_BYTES)
    full = stack.node("POST", base, body={"name": "full.bin", "data": b64(big)})
    assert full.status == 201 and full.json["size"] == MAX_BYTES
    assert base64.b64decode(stack.node("GET", f"{base}/full.bin").json["data"]) == big


@pytest.mark.parametrize("body,path", [
    ({"name": "x", "data": "not base64!!"}, "data"),
    ({"name": "x", "data": "QUJD="}, "data"),                 # bad padding
    ({"name": "a/b", "data": "QUJD"}, "name"),
    ({"name": "..", "data": "QUJD"}, "name"),
    ({"name": ".", "data": "QUJD"}, "name"),
    ({"name": "", "data": "QUJD"}, "name"),
    ({"name": "x" * 201, "data": "QUJD"}, "name"),
    ({"name": "sp ace", "data": "QUJD"}, "name"),
    ({"name": "x", "data": "QUJD", "content_type": "not a type"}, "content_type"),
    ({"name": "x", "data": b64(bytes(MAX_BYTES + 1))}, "data"),
    ({"name": "x"}, ""),
    ({"name": "x", "data": 5}, "data"),
    ({"name": "x", "data": "QUJD", "extra": 1}, ""),
])
def test_bad_uploads_are_400_with_details_and_store_nothing(env, body, path):
    stack, _, _, base = env
    answer = stack.node("POST", base, body=body)
    assert answer.status == 400, answer
    assert answer.json["error"] == "VALIDATION_ERROR" and answer.json["code"] == 4000
    assert answer.json["details"] and answer.json["details"][0]["path"] == path
    assert len(answer.text) < 2000  # never echoes the payload
    assert stored_keys() == []


def test_too_large_message_names_the_limit(env):
    stack, _, _, base = env
    answer = stack.node("POST", base, body={"name": "x", "data": b64(bytes(MAX_BYTES + 1))})
    assert answer.status == 400 and str(MAX_BYTES) in answer.json["details"][0]["message"]


def test_unknown_blob_is_404(env):
    stack, _, _, base = env
    answer = stack.node("GET", f"{base}/nope")
    assert answer.status == 404, answer
    assert answer.json["error"] == "BLOB_NOT_FOUND" and answer.json["code"] == 4049


def test_node_secret_required(env):
    stack, token, _, base = env
    assert stack.call("GET", base).status == 401
    assert stack.call("GET", base, token).status == 401       # an admin JWT is not it
    wrong = stack.node("POST", base, body={"name": "x", "data": "QUJD"}, secret="nope")
    assert wrong.status == 401 and wrong.json["error"] == "INVALID_NODE_SECRET"
    assert stack.node("GET", f"{base}/x", secret="nope").status == 401
    assert stack.node("DELETE", f"{base}/x", secret="nope").status == 401
    assert stored_keys() == []


def test_environments_and_instances_are_isolated(env):
    stack, token, inst, base = env
    other = stack.call("POST", "/api/instances", token, body={"name": "other"}).json["id"]
    stack.node("POST", base, body={"name": "cfg", "data": b64(b"prod")})
    stack.node("POST", f"/internal/instances/{inst}/staging/blobs",
               body={"name": "cfg", "data": b64(b"staging")})
    assert base64.b64decode(stack.node("GET", f"{base}/cfg").json["data"]) == b"prod"
    staged = stack.node("GET", f"/internal/instances/{inst}/staging/blobs/cfg").json
    assert base64.b64decode(staged["data"]) == b"staging"
    assert stack.node("GET", f"/internal/instances/{inst}/test/blobs").json["blobs"] == []
    elsewhere = f"/internal/instances/{other}/prod/blobs"
    assert stack.node("GET", elsewhere).json["blobs"] == []
    assert stack.node("GET", f"{elsewhere}/cfg").status == 404
    assert stack.node("DELETE", f"{elsewhere}/cfg").status == 404
    stack.node("DELETE", f"/internal/instances/{inst}/staging/blobs/cfg")
    assert stack.node("GET", f"{base}/cfg").status == 200


def test_unknown_instance_and_environment(env):
    stack, _, inst, _ = env
    missing = stack.node("GET", "/internal/instances/inst_nope/prod/blobs")
    assert missing.status == 404 and missing.json["error"] == "INSTANCE_NOT_FOUND"
    up = stack.node("POST", "/internal/instances/inst_nope/prod/blobs",
                    body={"name": "x", "data": "QUJD"})
    assert up.status == 404
    bad_env = stack.node("POST", f"/internal/instances/{inst}/dev/blobs",
                         body={"name": "x", "data": "QUJD"})
    assert bad_env.status == 400 and bad_env.json["details"][0]["path"] == "env"
    assert stored_keys() == []


def test_listing_pages_with_a_cursor(env):
    stack, _, _, base = env
    for name in ("c", "a", "b"):
        stack.node("POST", base, body={"name": name, "data": b64(name.encode())})
    first = stack.node("GET", f"{base}?limit=2")
    assert first.status == 200, first
    assert [b["name"] for b in first.json["blobs"]] == ["a", "b"]
    assert first.json["next_cursor"]
    second = stack.node("GET", f"{base}?limit=2&cursor={first.json['next_cursor']}")
    assert [b["name"] for b in second.json["blobs"]] == ["c"]
    assert second.json["next_cursor"] is None
    assert stack.node("GET", f"{base}?limit=1001").status == 400
    assert stack.node("GET", f"{base}?limit=0").status == 400


def test_ops_listing_needs_manage_ops(env):
    stack, token, inst, base = env
    stack.node("POST", base, body={"name": "cfg", "content_type": "text/plain",
                                   "data": b64(b"hello")})
    ops = f"/api/instances/{inst}/ops/prod/blobs"
    answer = stack.call("GET", ops, token)
    assert answer.status == 200, answer
    assert answer.json == stack.node("GET", base).json
    assert answer.json["blobs"][0]["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert stack.call("GET", ops).status == 401
    assert stack.node("GET", ops).status == 401               # the node secret is not it
    weak = stack.token_with(["manage_keys"])
    refused = stack.call("GET", ops, weak)
    assert refused.status == 403 and refused.json["error"] == "INSUFFICIENT_PERMISSIONS"
    allowed = stack.token_with(["manage_ops"])
    assert stack.call("GET", ops, allowed).status == 200
    # the ops surface only lists
    assert stack.call("POST", ops, token, body={"name": "x", "data": "QUJD"}).status in (403, 404, 405)
