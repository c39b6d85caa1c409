"""The hashes of RFC 6962 and of the per-aggregate chain: leaf and interior node hashes
(with the 0x00/0x01 prefixes), the empty tree's root, the canonical leaf bytes of one
event (``event_leaf``) and the chain link over content hashes (``chain_hash``, from
``GENESIS``)."""
from __future__ import annotations

import hashlib

from chalicelib.domain.merkle.errors import HASH_SIZE, as_bytes

EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962 section 2.1: MTH({}) = SHA-256()
GENESIS = bytes(HASH_SIZE)  # the "previous" chain hash of a stream's first event


# --- hashing (RFC 6962 section 2.1: the 0x00/0x01 prefixes separate leaves from nodes,
# so an interior node can never be passed off as a leaf) ------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + bytes(left) + bytes(right)).digest()


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
    content_hash = as_bytes(content_hash, "content hash")
    return _lp(_LEAF_TAG) + _lp(stream_id.encode("utf-8")) + position.to_bytes(8, "big") \
        + _lp(content_hash)


def chain_hash(previous_chain_hash: bytes | None, content_hash: bytes) -> bytes:
    """SHA-256(previous || content); the first event of a stream chains from GENESIS.

    Built on the content hash (not the payload) for the same reason as the leaves: a
    tombstone leaves the chain intact.
    """
    previous = GENESIS if previous_chain_hash is None else previous_chain_hash
    return hashlib.sha256(as_bytes(previous, "previous chain hash")
                          + as_bytes(content_hash, "content hash")).digest()
