"""Pure pieces of the event store: canonical content hashes, stream keys, and the Merkle
leaf of an event (the frontier and tile math is in ``chalicelib.domain.merkle``)."""
from __future__ import annotations

import hashlib
import json

from chalicelib.domain import merkle


def canonical(value) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 (what content hashes cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def content_hash(event_type: str, data, metadata, created_at: float) -> bytes:
    return hashlib.sha256(canonical({"type": event_type, "data": data, "metadata": metadata,
                                     "created_at": created_at})).digest()


def stream_label(agg_type: str, agg_id: str) -> str:
    """The stream id the Merkle leaves commit to: independent of where it is stored."""
    return f"{agg_type}/{agg_id}"


def leaf(agg_type: str, agg_id: str, position: int, content: bytes) -> bytes:
    return merkle.leaf_hash(merkle.event_leaf(stream_label(agg_type, agg_id), position, content))
