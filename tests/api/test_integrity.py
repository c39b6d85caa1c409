"""Hash chain and RFC 6962 Merkle proofs of an aggregate's events (seed 000 "Audit"),
checked with a verifier written here from RFC 9162 section 2.1.3.2, independent of ours."""
import base64
import hashlib
import json
from pathlib import Path

import pytest

from chalicelib.store.tables import StoredEvent
from testing.specs import ORDER_SPEC

ACTOR = {"actor": {"type": "user", "id": "AGENT0001"}}
VECTORS = Path(__file__).resolve().parents[1] / "testdata" / "rfc6962"  # vendored, see its README


def rfc_verify_inclusion(index, size, leaf_hash, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def leaf_hash(stream, position, content_hash):
    lp = lambda b: len(b).to_bytes(4, "big") + b  # noqa: E731
    leaf = lp(b"event-leaf/v1") + lp(stream.encode()) + position.to_bytes(8, "big") + lp(content_hash)
    return hashlib.sha256(b"\x00" + leaf).digest()


@pytest.fixture
def written(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]
    stack.call("POST", f"/api/instances/{inst}/spec", token, body={"environment": "prod", "spec": ORDER_SPEC})
    key = stack.call("POST", f"/api/instances/{inst}/keys", token,
                     body={"name": "w", "scope": "write", "environment": "prod"}).json["key"]
    auth = {"Authorization": f"Bearer {key}"}
    stack.call("POST", "/data/order/0RDER0001/created", headers=auth,
               body={"data": {"customer": "C00000001", "total": 1}, "metadata": ACTOR})
    for i in range(9):
        answer = stack.call("POST", "/data/order/0RDER0001/item_added", headers=auth,
                            body={"data": {"sku": f"s{i}", "qty": i + 1}, "metadata": ACTOR})
        assert answer.status == 201
    return stack, token, inst, auth


def b64(s):
    return base64.b64decode(s)


def test_every_proof_verifies_independently(written):
    stack, _, _, auth = written
    root = stack.call("GET", "/data/order/0RDER0001/audit/merkle-root", headers=auth).json
    assert root["treeSize"] == 10
    events = sorted((e for e in StoredEvent.scan() if e.stream.endswith("#order#0RDER0001")),
                    key=lambda e: e.position)
    for event in events:
        proof = stack.call("GET", f"/data/order/0RDER0001/audit/merkle-proof/{event.position}",
                           headers=auth).json
        # recompute the content hash and leaf from the stored event, as an auditor would
        content = hashlib.sha256(json.dumps(
            {"type": event.event_type, "data": event.data, "metadata": event.metadata,
             "created_at": event.created_at}, sort_keys=True, separators=(",", ":"),
            ensure_ascii=False).encode()).digest()
        assert content.hex() == proof["leaf"]["content_hash"]
        leaf = leaf_hash("order/0RDER0001", event.position, content)
        assert leaf == b64(proof["leafHash"])
        assert rfc_verify_inclusion(event.position, 10, leaf, [b64(p) for p in proof["proof"]],
                                    b64(root["root"]))


def test_proof_at_an_earlier_size_and_consistency(written):
    stack, _, _, auth = written
    early = stack.call("GET", "/data/order/0RDER0001/audit/merkle-proof/2?tree_size=5", headers=auth).json
    assert early["treeSize"] == 5
    assert rfc_verify_inclusion(2, 5, b64(early["leafHash"]), [b64(p) for p in early["proof"]],
                                b64(early["root"]))
    cons = stack.call("GET", "/data/order/0RDER0001/audit/merkle-consistency?old_size=5", headers=auth).json
    assert cons["root1"] == early["root"] and cons["size2"] == 10
    verdict = stack.call("POST", "/data/order/0RDER0001/audit/merkle-verify", headers=auth, body={
        k: cons[k] for k in ("size1", "size2", "root1", "root2", "proof")}).json
    assert verdict["valid"] is True


def test_surfaces_agree(written):
    stack, token, inst, auth = written
    data = stack.call("GET", "/data/order/0RDER0001/audit/merkle-root", headers=auth).json
    ops = stack.call("GET", f"/api/instances/{inst}/ops/prod/audit/merkle-root/order/0RDER0001", token).json
    internal = stack.node("GET", f"/internal/instances/{inst}/prod/audit/merkle-root/order/0RDER0001").json
    assert data["root"] == ops["root"] == internal["root"]
    chain = stack.call("GET", f"/api/instances/{inst}/ops/prod/audit/verify-chain/order/0RDER0001", token)
    assert chain.json["valid"] is True and chain.json["checked"] == 10


def test_tampering_is_detected_by_chain_and_proof(written):
    stack, _, _, auth = written
    event = next(e for e in StoredEvent.scan() if e.stream.endswith("#order#0RDER0001") and e.position == 4)
    event.data = {"sku": "forged", "qty": 99}
    event.save()
    chain = stack.call("GET", "/data/order/0RDER0001/audit/verify-chain", headers=auth).json
    assert chain["valid"] is False and chain["first_bad_index"] == 4


def test_merkle_verify_route_accepts_exactly_the_good_vectors(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "v"}).json["id"]
    cases = sorted(VECTORS.rglob("*.json"))
    assert len(cases) == 196
    accepted, wanted = set(), set()
    for case in cases:
        vector = json.loads(case.read_text())
        body = {k: v for k, v in vector.items() if k not in ("desc", "wantErr")}
        answer = stack.node("POST", f"/internal/instances/{inst}/prod/audit/merkle-verify",
                            body=body)
        assert answer.status in (200, 400), (case, answer)
        if answer.status == 200 and answer.json["valid"]:
            accepted.add(str(case))
        if not vector["wantErr"]:
            wanted.add(str(case))
    assert accepted == wanted and len(wanted) == 12


def test_bad_proof_requests(written):
    stack, _, _, auth = written
    assert stack.call("GET", "/data/order/0RDER0001/audit/merkle-proof/10", headers=auth).status == 400
    assert stack.call("GET", "/data/order/0RDER0001/audit/merkle-proof/abc", headers=auth).status == 400
    assert stack.call("GET", "/data/order/nope/audit/merkle-root", headers=auth).status == 404
    assert stack.call("GET", "/data/order/0RDER0001/audit/merkle-consistency", headers=auth).status == 400


def test_ops_surface_needs_manage_ops(written):
    stack, _, inst, _ = written
    token = stack.token_with(["view_instances"])
    answer = stack.call("GET", f"/api/instances/{inst}/ops/prod/audit/merkle-root/order/0RDER0001", token)
    assert answer.status == 403
