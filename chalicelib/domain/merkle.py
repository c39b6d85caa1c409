"""RFC 6962 / RFC 9162 Merkle trees and a per-aggregate hash chain.

Pure and standard-library only, so any RFC 6962 verifier (e.g. transparency-dev/merkle)
can check what we produce, and the storage layer decides how hashes are stored.

Addressing: node (level, index) covers leaves [index * 2**level, (index + 1) * 2**level);
level 0 holds the leaf hashes. Only *complete* (perfect) subtrees are ever read: they
never change once written, so they can be stored immutably as events are appended. The
ragged right edge of a tree is recomputed from them when a proof or root needs it.

Leaf design (why tombstoning keeps every proof valid): a leaf is `event_leaf(stream_id,
position, content_hash)`, never the raw payload. Tombstoning replaces the payload with a
`_was_tombstoned` marker that keeps the original content hash, so the leaf bytes, the
leaf hash, every root, every proof and the hash chain stay exactly as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from itertools import zip_longest

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 section 2.1: MTH({}) = SHA-256()
GENESIS = bytes(HASH_SIZE)  # the "previous" chain hash of a stream's first event

Node = tuple[int, int]  # (level, index)
GetNode = Callable[[int, int], bytes] | Mapping[Node, bytes]


class ProofError(ValueError):
    """A proof (or its inputs) does not verify; the message says why."""


# --- hashing (RFC 6962 section 2.1: the 0x00/0x01 prefixes separate leaves from nodes,
# so an interior node can never be passed off as a leaf) ------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


def _fold(hashes: Sequence[bytes]) -> bytes:
    # The RFC splits at the largest power of two below n, so a range decomposed into
    # decreasing perfect subtrees hashes as P1 . (P2 . (P3 ...)): fold from the right.
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _range_nodes(begin: int, end: int) -> list[Node]:
    """The perfect subtrees, largest first, covering [begin, end).

    Callers only pass a `begin` aligned to a power of two larger than the range (0, or
    the start of a right-edge sibling), so the greedy split is aligned.
    """
    nodes = []
    for level in reversed(range((end - begin).bit_length())):
        if (end - begin) >> level & 1:
            nodes.append((level, begin >> level))
            begin += 1 << level
    return nodes


# --- which nodes a proof needs ----------------------------------------------------------

Plan = list[tuple[Node, ...]]  # one entry per proof hash: the nodes it folds


def _path_plan(level: int, index: int, size: int) -> Plan:
    """Siblings on the way from node (level, index) up to the root of a `size` tree."""
    plan: Plan = []
    height = (size - 1).bit_length()  # level of the root
    while level < height:
        start = (index ^ 1) << level
        if start < size:  # no sibling means this node is promoted unchanged (RFC split)
            # A right sibling may be cut by the edge: then it is the fold of its parts.
            plan.append(tuple(_range_nodes(start, min(start + (1 << level), size))))
        level, index = level + 1, index >> 1
    return plan


def _inclusion_plan(index: int, size: int) -> Plan:
    _check_int(index, "index")
    _check_int(size, "size")
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    return _path_plan(0, index, size)


def _consistency_plan(old_size: int, new_size: int) -> Plan:
    _check_int(old_size, "old size")
    _check_int(new_size, "new size")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        return []
    if old_size == 0:
        raise ProofError("no consistency proof from the empty tree (RFC 9162 needs 0 < m)")
    # Seed: the last perfect subtree of the old tree, [old - 2**level, old). Its path to
    # the new root is RFC 9162's SUBPROOF; the seed itself is left out when it *is* the
    # old root (old size a power of two), because the verifier already has that hash.
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    seed = [((level, index),)] if index else []
    return seed + _path_plan(level, index, new_size)


def _flat(plan: Plan) -> list[Node]:
    return list(dict.fromkeys(n for entry in plan for n in entry))


def inclusion_nodes(index: int, size: int) -> list[Node]:
    """The complete-subtree nodes (level, index) that `inclusion_proof` will read."""
    return _flat(_inclusion_plan(index, size))


def consistency_nodes(old_size: int, new_size: int) -> list[Node]:
    """The complete-subtree nodes (level, index) that `consistency_proof` will read."""
    return _flat(_consistency_plan(old_size, new_size))


def root_nodes(size: int) -> list[Node]:
    """The complete-subtree nodes whose fold is the root of a tree of `size` leaves."""
    _check_int(size, "size")
    return _range_nodes(0, size)


def completed_nodes(leaf_index: int) -> list[Node]:
    """Nodes that become complete when leaf `leaf_index` is appended, bottom-up.

    (0, leaf_index) is the leaf itself; each following node is node_hash of its two
    children, which are then both complete. A store writes these once and never again.
    """
    _check_int(leaf_index, "leaf index")
    top = ((leaf_index + 1) & -(leaf_index + 1)).bit_length() - 1
    return [(level, leaf_index >> level) for level in range(top + 1)]


# --- building proofs --------------------------------------------------------------------

def _build(plan: Plan, get_node: GetNode) -> list[bytes]:
    # A Mapping is accepted so a store can batch-fetch `*_nodes(...)` and pass the dict.
    fetch = get_node.__getitem__ if isinstance(get_node, Mapping) else lambda n: get_node(*n)
    return [_fold([fetch(n) for n in entry]) for entry in plan]


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 2.1.3.1 inclusion proof (audit path), leaf side first."""
    return _build(_inclusion_plan(index, size), get_node)


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 2.1.4.1 consistency proof; [] when the sizes are equal."""
    return _build(_consistency_plan(old_size, new_size), get_node)


def root_from_nodes(size: int, get_node: GetNode) -> bytes:
    """Merkle Tree Hash of the first `size` leaves, from stored complete subtrees."""
    return _build([tuple(root_nodes(size))], get_node)[0] if size else EMPTY_ROOT


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """All complete subtrees over a list of leaf hashes: levels[level][index]."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def _leaves_getter(leaf_hashes: Sequence[bytes]) -> GetNode:
    levels = _levels(leaf_hashes)
    return lambda level, index: levels[level][index]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1 Merkle Tree Hash over already-hashed leaves."""
    return root_from_nodes(len(leaf_hashes), _leaves_getter(leaf_hashes))


def inclusion_proof_from_leaves(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    return inclusion_proof(index, len(leaf_hashes), _leaves_getter(leaf_hashes))


def consistency_proof_from_leaves(old_size: int, new_size: int,
                                  leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof between the first `old_size` and first `new_size` leaves."""
    if new_size > len(leaf_hashes):
        raise ProofError(f"new size {new_size} exceeds the {len(leaf_hashes)} leaves given")
    return consistency_proof(old_size, new_size, _leaves_getter(leaf_hashes[:new_size]))


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2, step by step) ----------------------------
# Inputs may come straight from a request body, so every check raises ProofError (or
# returns False) instead of letting a TypeError or IndexError escape.

def _check_int(value, what: str) -> None:
    if type(value) is not int or value < 0:  # bool is an int subclass: refuse it too
        raise ProofError(f"{what} must be a non-negative integer, got {value!r}")


def _as_bytes(value, what: str, exact: bool = True) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProofError(f"{what} must be bytes, got {type(value).__name__}")
    value = bytes(value)
    if exact and len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _as_proof(proof, expected_len: int) -> list[bytes]:
    if proof is None:  # JSON null, as the reference vectors write an empty proof
        proof = []
    if not isinstance(proof, (list, tuple)):
        raise ProofError(f"proof must be a list of hashes, got {type(proof).__name__}")
    if len(proof) != expected_len:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected_len}")
    return [_as_bytes(p, f"proof[{i}]") for i, p in enumerate(proof)]


def _path_len(index: int, last: int) -> int:
    # Below the level where the path leaves the right edge every level has a sibling;
    # above it, only the levels where the path is a right child do.
    inner = (index ^ last).bit_length()
    return inner + (index >> inner).bit_count()


def _shift_to_odd(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes,
                              proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof; ProofError if it cannot be one."""
    _check_int(index, "index")
    _check_int(size, "size")
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    r = _as_bytes(leaf_hash, "leaf hash")
    path = _as_proof(proof, _path_len(index, size - 1))
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes],
                     root: bytes) -> bool:
    try:
        return root_from_inclusion_proof(index, size, leaf_hash, proof) == _as_bytes(root, "root")
    except ProofError:
        return False


def check_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                      proof: Sequence[bytes]) -> None:
    """Raise ProofError saying why the proof fails; return None when it verifies."""
    _check_int(old_size, "old size")
    _check_int(new_size, "new size")
    # Equal-size roots are compared as given (the reference vectors accept any opaque
    # root there); otherwise they are compared with computed 32-byte hashes.
    old_root = _as_bytes(old_root, "old root", exact=False)
    new_root = _as_bytes(new_root, "new root", exact=False)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("the root of the empty tree must be SHA-256 of nothing")
    if old_size == new_size:
        _as_proof(proof, 0)
        if old_root != new_root:
            raise ProofError("sizes are equal but the roots differ")
        return
    if old_size == 0:
        raise ProofError("no consistency proof from the empty tree (RFC 9162 needs 0 < m)")
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    path = _as_proof(proof, _path_len(index, (new_size - 1) >> level) + (1 if index else 0))
    if not path:
        raise ProofError("empty proof")
    if old_size == 1 << level:  # a power of two: the old root is itself the first node
        path = [old_root] + path
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 4: skip the levels where the seed is a right child
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_to_odd(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the new root")
    if fr != old_root:
        raise ProofError("proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("proof does not lead to the new root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    try:
        check_consistency(old_size, new_size, old_root, new_root, proof)
        return True
    except ProofError:
        return False


# --- leaves and the per-aggregate hash chain --------------------------------------------

_LEAF_TAG = b"event-leaf/v1"  # versions the encoding; leaves of another format never collide


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def event_leaf(stream_id: str, position: int, content_hash: bytes) -> bytes:
    """Canonical leaf bytes for one event (hash them with `leaf_hash`).

    Every variable field is length-prefixed and the position is a fixed 8 bytes, so no
    two (stream, position, hash) triples share an encoding. `position` is the event's
    0-based index in its stream; content_hash is the SHA-256 a tombstone keeps.
    """
    if not isinstance(stream_id, str):
        raise ValueError("stream_id must be a str")
    if type(position) is not int or not 0 <= position < 1 << 64:
        raise ValueError("position must be an integer in [0, 2**64)")
    content_hash = _as_bytes(content_hash, "content hash")
    return _lp(_LEAF_TAG) + _lp(stream_id.encode("utf-8")) + position.to_bytes(8, "big") \
        + _lp(content_hash)


def chain_hash(previous_chain_hash: bytes | None, content_hash: bytes) -> bytes:
    """SHA-256(previous || content); the first event of a stream chains from GENESIS.

    Built on the content hash (not the payload) for the same reason as the leaves: a
    tombstone leaves the chain intact.
    """
    previous = GENESIS if previous_chain_hash is None else previous_chain_hash
    return hashlib.sha256(_as_bytes(previous, "previous chain hash")
                          + _as_bytes(content_hash, "content hash")).digest()


def verify_chain(content_hashes: Sequence[bytes],
                 chain_hashes: Sequence[bytes]) -> tuple[bool, int | None]:
    """(True, None) if the chain is intact, else (False, index of the first bad event).

    Each link is recomputed from the previous *recomputed* link, so the index returned
    is where tampering (or a missing/extra entry) starts, not every link after it.
    """
    previous = None
    for i, (content, stored) in enumerate(zip_longest(content_hashes, chain_hashes)):
        try:
            expected = chain_hash(previous, content)
        except ProofError:
            return False, i
        if stored != expected:
            return False, i
        previous = expected
    return True, None
