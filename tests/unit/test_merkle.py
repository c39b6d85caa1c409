"""RFC 6962 Merkle trees: public vectors, the reference test leaves, and properties.

Expected values come from a deliberately naive recursive implementation written here
from the RFC 9162 text (MTH, PATH, SUBPROOF), independent of the module under test.
"""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain import merkle

VECTORS = Path(__file__).resolve().parents[1] / "testdata" / "rfc6962"  # vendored, see its README
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- reference implementation, straight from RFC 9162 section 2.1 ------------------------

def sha(data):
    return hashlib.sha256(data).digest()


def split(n):  # the largest power of two smaller than n
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d):  # d: already-hashed leaves
    if not d:
        return sha(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return sha(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m, d):
    if len(d) <= 1:
        return []
    k = split(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = split(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_node(level, index, d):  # hash of the perfect subtree at (level, index)
    return ref_mth(d[index << level:(index + 1) << level])


def make_leaves(n, salt=b""):
    return [merkle.leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# --- the public transparency-dev vectors -------------------------------------------------

def b64(value):
    return base64.b64decode(value)


def load_cases():
    cases = []
    for path in sorted(VECTORS.glob("*/**/*.json")):
        case = json.loads(path.read_text())
        case["kind"] = path.relative_to(VECTORS).parts[0]
        case["id"] = str(path.relative_to(VECTORS))
        cases.append(case)
    return cases


CASES = load_cases()


def test_vector_count():
    assert len(CASES) == 196
    assert {c["kind"] for c in CASES} == {"inclusion", "consistency"}
    assert sum(not c["wantErr"] for c in CASES) == 12


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector(case):
    proof = [b64(p) for p in case["proof"]] if case["proof"] is not None else None
    if case["kind"] == "inclusion":
        ok = merkle.verify_inclusion(case["leafIdx"], case["treeSize"], b64(case["leafHash"]),
                                     proof, b64(case["root"]))
    else:
        ok = merkle.verify_consistency(case["size1"], case["size2"], b64(case["root1"]),
                                       b64(case["root2"]), proof)
    assert ok is (not case["wantErr"]), case["desc"]


# --- the RFC 6962 reference leaves (Go/C++ test suites) ----------------------------------

RFC_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
RFC_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
RFC_HASHES = [merkle.leaf_hash(d) for d in RFC_LEAVES]


def test_empty_tree():
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert merkle.root([]) == merkle.EMPTY_ROOT
    assert merkle.root_from_nodes(0, {}) == merkle.EMPTY_ROOT
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])


def test_hash_prefixes():
    assert merkle.leaf_hash(b"") == sha(b"\x00")
    assert merkle.node_hash(b"a", b"b") == sha(b"\x01ab")


@pytest.mark.parametrize("size", range(1, 9))
def test_rfc_leaves_roots_and_proofs(size):
    d = RFC_HASHES[:size]
    assert merkle.root(d) == ref_mth(d) == RFC_ROOTS[size - 1]
    for m in range(size):
        proof = merkle.inclusion_proof_from_leaves(m, d)
        assert proof == ref_path(m, d)
        assert merkle.verify_inclusion(m, size, d[m], proof, RFC_ROOTS[size - 1])
        assert not merkle.verify_inclusion(m, size, d[m], proof, RFC_ROOTS[size % 8])
    for old in range(1, size + 1):
        proof = merkle.consistency_proof_from_leaves(old, size, RFC_HASHES)
        assert proof == ref_subproof(old, d, True)
        assert merkle.verify_consistency(old, size, RFC_ROOTS[old - 1], RFC_ROOTS[size - 1], proof)


def test_rfc_9162_example_shapes():
    # RFC 9162 2.1.5: the 7-leaf tree's example proofs, by node (level, index).
    assert merkle.inclusion_nodes(0, 7) == [(0, 1), (1, 1), (1, 2), (0, 6)]
    assert merkle.inclusion_nodes(3, 7) == [(0, 2), (1, 0), (1, 2), (0, 6)]
    assert merkle.inclusion_nodes(4, 7) == [(0, 5), (0, 6), (2, 0)]
    assert merkle.inclusion_nodes(6, 7) == [(1, 2), (2, 0)]
    assert merkle.consistency_nodes(3, 7) == [(0, 2), (0, 3), (1, 0), (1, 2), (0, 6)]
    assert merkle.consistency_nodes(4, 7) == [(1, 2), (0, 6)]
    assert merkle.consistency_nodes(6, 7) == [(1, 2), (0, 6), (2, 0)]


# --- properties over random trees --------------------------------------------------------

sizes = st.integers(min_value=1, max_value=200)
salts = st.binary(max_size=8)


def nodes_dict(nodes, d):
    # Every node a proof asks for must be a *complete* subtree of the tree it reads.
    for level, index in nodes:
        assert (index + 1) << level <= len(d), (level, index)
    return {(lv, ix): ref_node(lv, ix, d) for lv, ix in nodes}


def flips(proof):
    for i, h in enumerate(proof):
        for bit in range(len(h) * 8):
            bad = bytearray(h)
            bad[bit // 8] ^= 1 << (bit % 8)
            yield proof[:i] + [bytes(bad)] + proof[i + 1:]


@PROPS
@given(size=sizes, salt=salts, data=st.data())
def test_inclusion_properties(size, salt, data):
    d = make_leaves(size, salt)
    top = merkle.root(d)
    assert top == ref_mth(d)
    for m in range(size):
        assert merkle.verify_inclusion(m, size, d[m], merkle.inclusion_proof_from_leaves(m, d), top)

    m = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof_from_leaves(m, d)
    assert proof == ref_path(m, d)
    fetched = nodes_dict(merkle.inclusion_nodes(m, size), d)
    assert merkle.inclusion_proof(m, size, fetched) == proof  # batch-fetched dict
    assert merkle.inclusion_proof(m, size, lambda lv, ix: fetched[(lv, ix)]) == proof
    assert merkle.root_from_nodes(size, nodes_dict(merkle.root_nodes(size), d)) == top
    assert merkle.root_from_inclusion_proof(m, size, d[m], proof) == top
    for bad in flips(proof):
        assert not merkle.verify_inclusion(m, size, d[m], bad, top)
    # (The size is not bound into the root: leaf 0 of sizes 3 and 4 share a path shape,
    # so only a size that changes the path's shape can be rejected.)
    assert not merkle.verify_inclusion(m, 2 * size + 1, d[m], proof, top)
    assert not merkle.verify_inclusion(size, size, d[m], proof, top)
    assert not merkle.verify_inclusion(m, size, d[m], proof + [top], top)
    if proof:
        assert not merkle.verify_inclusion(m, size, d[m], proof[:-1], top)
        assert not merkle.verify_inclusion(m ^ 1, size, d[m], proof, top)


@PROPS
@given(new=sizes, salt=salts, data=st.data())
def test_consistency_properties(new, salt, data):
    d = make_leaves(new, salt)
    roots = [merkle.EMPTY_ROOT] + [merkle.root(d[:n]) for n in range(1, new + 1)]
    for old in range(1, new + 1):
        proof = merkle.consistency_proof_from_leaves(old, new, d)
        assert merkle.verify_consistency(old, new, roots[old], roots[new], proof)

    old = data.draw(st.integers(1, new), label="old")
    proof = merkle.consistency_proof_from_leaves(old, new, d)
    assert proof == ref_subproof(old, d, True)
    fetched = nodes_dict(merkle.consistency_nodes(old, new), d)
    assert merkle.consistency_proof(old, new, fetched) == proof
    for bad in flips(proof):
        assert not merkle.verify_consistency(old, new, roots[old], roots[new], bad)
    if old < new:
        assert not merkle.verify_consistency(old, new, roots[new], roots[old], proof)
        assert not merkle.verify_consistency(old, new, roots[old], roots[new], proof[:-1])
        assert not merkle.verify_consistency(old, new, roots[old], roots[new], proof + [roots[new]])
        assert not merkle.verify_consistency(old - 1, new, roots[old - 1], roots[new], proof)
        assert not merkle.verify_consistency(old, new - 1, roots[old], roots[new - 1], proof)


@PROPS
@given(leaf=st.integers(0, 300))
def test_completed_nodes_are_exactly_the_new_complete_subtrees(leaf):
    got = merkle.completed_nodes(leaf)
    assert got[0] == (0, leaf)
    assert all((ix + 1) << lv == leaf + 1 for lv, ix in got)  # complete at this append
    assert (leaf + 1) % (1 << len(got)) != 0  # and the next level up is not complete yet


garbage = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**70), st.text(max_size=4),
                    st.binary(max_size=40), st.lists(st.binary(max_size=40), max_size=4),
                    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.text()))


@PROPS
@given(index=garbage, size=garbage, leaf=garbage, proof=garbage, top=garbage)
def test_garbage_is_rejected_without_crashing(index, size, leaf, proof, top):
    assert merkle.verify_inclusion(index, size, leaf, proof, top) in (True, False)
    assert merkle.verify_consistency(index, size, leaf, top, proof) in (True, False)


def test_malformed_inputs_raise_proof_error():
    d = RFC_HASHES
    proof = merkle.inclusion_proof_from_leaves(2, d)
    good = merkle.root_from_inclusion_proof(2, 8, d[2], proof)
    assert good == RFC_ROOTS[7]
    for args, reason in [
        ((8, 8, d[2], proof), "not below tree size"),
        ((-1, 8, d[2], proof), "non-negative integer"),
        ((True, 8, d[2], proof), "non-negative integer"),
        ((2, 8, d[2], proof[:2]), "expected 3"),
        ((2, 8, d[2], "abc"), "list of hashes"),
        ((2, 8, d[2][:31], proof), "32 bytes"),
        ((2, 8, d[2], [proof[0], 5, proof[2]]), r"proof\[1\] must be bytes"),
    ]:
        with pytest.raises(merkle.ProofError, match=reason):
            merkle.root_from_inclusion_proof(*args)
    with pytest.raises(merkle.ProofError, match="empty tree"):
        merkle.check_consistency(0, 3, merkle.EMPTY_ROOT, RFC_ROOTS[2], [])
    with pytest.raises(merkle.ProofError, match="old root"):
        p = merkle.consistency_proof_from_leaves(3, 8, d)
        merkle.check_consistency(3, 8, RFC_ROOTS[3], RFC_ROOTS[7], p)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof_from_leaves(5, 4, d)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_nodes(4, 4)


# --- leaves and the hash chain -------------------------------------------------------------

def test_event_leaf_is_unambiguous_and_ignores_payload():
    h = sha(b"payload")
    leaf = merkle.event_leaf("order/1", 0, h)
    assert leaf.endswith((32).to_bytes(4, "big") + h)
    assert merkle.event_leaf("order/1", 0, h) == leaf  # deterministic
    others = {merkle.event_leaf(s, p, c) for s, p, c in [
        ("order/1", 1, h), ("order/10", 0, h), ("order/", 0, h), ("order/1", 0, sha(b"x")),
        ("order/1\x00", 0, h)]}
    assert leaf not in others and len(others) == 5
    # A tombstone keeps the content hash, so the leaf (and every proof over it) is unchanged.
    leaves = [merkle.leaf_hash(merkle.event_leaf("s", i, sha(b"%d" % i))) for i in range(5)]
    assert merkle.root(leaves) == merkle.root(list(leaves))
    with pytest.raises(ValueError):
        merkle.event_leaf("s", -1, h)
    with pytest.raises(ValueError):
        merkle.event_leaf("s", 0, h[:10])


def test_chain():
    contents = [sha(b"%d" % i) for i in range(6)]
    chain, prev = [], None
    for c in contents:
        prev = merkle.chain_hash(prev, c)
        chain.append(prev)
    assert chain[0] == sha(bytes(32) + contents[0])  # genesis is 32 zero bytes
    assert merkle.chain_hash(merkle.GENESIS, contents[0]) == chain[0]
    assert chain[1] == sha(chain[0] + contents[1])
    assert merkle.verify_chain(contents, chain) == (True, None)
    assert merkle.verify_chain([], []) == (True, None)

    tampered = list(contents)
    tampered[3] = sha(b"evil")
    assert merkle.verify_chain(tampered, chain) == (False, 3)
    bad_link = list(chain)
    bad_link[4] = bytes(32)
    assert merkle.verify_chain(contents, bad_link) == (False, 4)
    assert merkle.verify_chain(contents, chain[:-1]) == (False, 5)
    assert merkle.verify_chain(contents[:-1], chain) == (False, 5)
    assert merkle.verify_chain(contents[:2] + [b"short"], chain[:3]) == (False, 2)
