"""Merkle roots, inclusion and consistency proofs, and hash-chain checks of a stream.

Proofs read at most: the stream head (tree size and root), one BatchGetItem of the
tiles holding the proof's nodes, and the event (its content hash, for the leaf)."""
from __future__ import annotations

import base64
import binascii

from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import events as ev
from chalicelib.domain import merkle
from chalicelib.store.tables import MerkleTile, StoredEvent, StreamHead

LEAF_ENCODING = ("leafHash = SHA-256(0x00 || leaf); leaf = lp(\"event-leaf/v1\") || lp(utf8(stream)) || "
                 "position as 8 bytes big-endian || lp(content_hash), lp(x) = 4-byte "
                 "big-endian length || x; see chalicelib/domain/merkle.py event_leaf")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _head(stream: str) -> StreamHead:
    try:
        return StreamHead.get(stream, consistent_read=True)
    except StreamHead.DoesNotExist:
        raise AppError("AGGREGATE_NOT_FOUND")


def _root(head: StreamHead) -> bytes:
    return merkle.frontier_root([(int(lv), bytes.fromhex(h)) for lv, h in head.frontier or []])


def merkle_root(stream: str, agg_type: str, agg_id: str) -> dict:
    head = _head(stream)
    return {"ok": True, "stream": ev.stream_label(agg_type, agg_id),
            "treeSize": int(head.length), "root": _b64(_root(head)),
            "root_hex": _root(head).hex()}


def _node_reader(stream: str, nodes: list[tuple[int, int]]):
    """Fetch every tile the nodes need in one BatchGetItem; return a get_node function."""
    wanted = {merkle.tile_sources(level, index)[0] for level, index in nodes}
    tiles = {t.tile: t.hashes for t in MerkleTile.batch_get([(stream, w) for w in wanted])}

    def get(level: int, index: int) -> bytes:
        tile, first, count, _ = merkle.tile_sources(level, index)
        hashes = tiles.get(tile, [])[first:first + count]
        if len(hashes) != count:
            raise AppError("INTEGRITY_ERROR", f"tile {tile} lacks hashes for node "
                           f"({level}, {index}); the stream's tree is damaged")
        return merkle.hash_up([bytes.fromhex(h) for h in hashes])
    return get


def inclusion(stream: str, agg_type: str, agg_id: str, index: int,
              tree_size: int | None = None) -> dict:
    head = _head(stream)
    size = int(head.length) if tree_size is None else tree_size
    if not 0 <= index < size or size > int(head.length):
        raise invalid("index", "out of range", f"index must be in [0, tree size) and the tree "
                      f"size at most {int(head.length)}")
    current = size == int(head.length)
    nodes = merkle.inclusion_nodes(index, size) + [(0, index)]
    get = _node_reader(stream, nodes if current else nodes + merkle.root_nodes(size))
    proof = merkle.inclusion_proof(index, size, get)
    root = _root(head) if current else merkle.root_from_nodes(size, get)
    event = StoredEvent.get(stream, index, consistent_read=True)
    leaf = ev.leaf(agg_type, agg_id, index, bytes.fromhex(event.content_hash))
    if leaf != get(0, index):
        raise AppError("INTEGRITY_ERROR", f"event {index} does not match its stored leaf")
    return {"ok": True, "stream": ev.stream_label(agg_type, agg_id),
            "leafIdx": index, "treeSize": size, "leafHash": _b64(leaf),
            "proof": [_b64(h) for h in proof], "root": _b64(root),
            "leaf": {"stream": ev.stream_label(agg_type, agg_id), "position": index,
                     "content_hash": event.content_hash,
                     "encoding": LEAF_ENCODING}}


def consistency(stream: str, agg_type: str, agg_id: str, old_size: int,
                new_size: int | None = None) -> dict:
    head = _head(stream)
    new = int(head.length) if new_size is None else new_size
    if not 0 < old_size <= new <= int(head.length):
        raise invalid("old_size", "out of range", "need 0 < old size <= new size <= stream length")
    nodes = merkle.consistency_nodes(old_size, new)
    get = _node_reader(stream, nodes + merkle.root_nodes(old_size) + merkle.root_nodes(new))
    proof = merkle.consistency_proof(old_size, new, get)
    return {"ok": True, "stream": ev.stream_label(agg_type, agg_id), "size1": old_size,
            "size2": new, "root1": _b64(merkle.root_from_nodes(old_size, get)),
            "root2": _b64(merkle.root_from_nodes(new, get)),
            "proof": [_b64(h) for h in proof]}


def _hash(value, field: str) -> bytes:
    """A hash given as hex (64 chars) or base64 (as the RFC 6962 test vectors are)."""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string")
    try:
        if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError(f"{field} is neither hex nor base64")


def verify(body: dict) -> dict:
    """Check an inclusion proof (leafIdx, treeSize, leafHash, proof, root) or a consistency
    proof (size1, size2, root1, root2, proof): pure, no storage read."""
    try:
        proof = [_hash(h, "proof") for h in (body.get("proof") or [])]
        if "leafIdx" in body:
            kind = "inclusion"
            merkle.root_from_inclusion_proof(body["leafIdx"], body["treeSize"],
                                             _hash(body["leafHash"], "leafHash"), proof)
            ok = merkle.verify_inclusion(body["leafIdx"], body["treeSize"],
                                         _hash(body["leafHash"], "leafHash"), proof,
                                         _hash(body["root"], "root"))
            reason = None if ok else "computed root does not match root"
        else:
            kind = "consistency"
            merkle.check_consistency(body["size1"], body["size2"], _hash(body["root1"], "root1"),
                                     _hash(body["root2"], "root2"), proof)
            ok, reason = True, None
    except (merkle.ProofError, ValueError) as exc:
        ok, reason = False, str(exc)
    answer = {"ok": True, "kind": kind if "kind" in locals() else "unknown", "valid": ok}
    if reason:
        answer["reason"] = reason
    return answer


def verify_chain(stream: str, agg_type: str, agg_id: str) -> dict:
    """Recompute every content hash (tombstoned events keep their original) and the chain."""
    head = _head(stream)
    previous = None
    checked = 0
    for event in StoredEvent.query(stream, consistent_read=True):
        if event.tombstoned is None:
            content = ev.content_hash(event.event_type, event.data, event.metadata,
                                      event.created_at)
            if content.hex() != event.content_hash:
                return _chain_answer(False, head, checked, event.position, "content hash")
        chain = merkle.chain_hash(previous, bytes.fromhex(event.content_hash))
        if chain.hex() != event.chain_hash:
            return _chain_answer(False, head, checked, event.position, "chain hash")
        previous = chain
        checked += 1
    if checked != int(head.length) or (previous.hex() if previous else None) != head.chain_head:
        return _chain_answer(False, head, checked, checked, "stream length or chain head")
    return _chain_answer(True, head, checked, None, None)


def _chain_answer(ok: bool, head, checked: int, bad, what) -> dict:
    answer = {"ok": True, "valid": ok, "length": int(head.length), "checked": checked,
              "chain_head": head.chain_head, "first_bad_index": bad}
    if what:
        answer["reason"] = f"{what} mismatch at index {bad}"
    return answer
