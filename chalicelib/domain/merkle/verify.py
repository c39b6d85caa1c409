"""Verification, step by step as RFC 9162 2.1.3.2 and 2.1.4.2 write it: the root an
inclusion proof implies, ``verify_inclusion``, ``check_consistency`` (which says why a
consistency proof fails) and ``verify_consistency``, and ``verify_chain`` for the
per-aggregate hash chain. Bad inputs raise ``ProofError`` or give False."""
from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

from chalicelib.domain.merkle.errors import ProofError, as_bytes, as_proof, check_int
from chalicelib.domain.merkle.hashing import EMPTY_ROOT, chain_hash, node_hash


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
    check_int(index, "index")
    check_int(size, "size")
    if index >= size:
        raise ProofError(f"index {index} is not below tree size {size}")
    r = as_bytes(leaf_hash, "leaf hash")
    path = as_proof(proof, _path_len(index, size - 1))
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
        return root_from_inclusion_proof(index, size, leaf_hash, proof) == as_bytes(root, "root")
    except ProofError:
        return False


def check_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                      proof: Sequence[bytes]) -> None:
    """Raise ProofError saying why the proof fails; return None when it verifies."""
    check_int(old_size, "old size")
    check_int(new_size, "new size")
    # Equal-size roots are compared as given (the reference vectors accept any opaque
    # root there); otherwise they are compared with computed 32-byte hashes.
    old_root = as_bytes(old_root, "old root", exact=False)
    new_root = as_bytes(new_root, "new root", exact=False)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("the root of the empty tree must be SHA-256 of nothing")
    if old_size == new_size:
        as_proof(proof, 0)
        if old_root != new_root:
            raise ProofError("sizes are equal but the roots differ")
        return
    if old_size == 0:
        raise ProofError("no consistency proof from the empty tree (RFC 9162 needs 0 < m)")
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    path = as_proof(proof, _path_len(index, (new_size - 1) >> level) + (1 if index else 0))
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
