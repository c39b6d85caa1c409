"""Pure pieces of checkpoints: which handlers a checkpoint's state depends on, and the
digest of a state as stored.

A checkpoint of an aggregate of type T holds the state that T's handlers folded from the
stream's first `length` events. Nothing else of a spec changes that state (schemas refuse
events before they are stored, implications write other events, which are folded by their
own type's handlers), so a checkpoint may stand in for a replay under any spec whose
handlers for T are the same: `handlers_fingerprint` names them."""
from __future__ import annotations

import hashlib

from chalicelib.domain.events import canonical


def handlers_of(spec: dict, agg_type: str) -> dict:
    """{event_type: handler} of one aggregate type ({} when the spec does not name it)."""
    agg = (spec.get("aggregate_types") or {}).get(agg_type) or {}
    return {name: (definition or {}).get("handler") or []
            for name, definition in (agg.get("events") or {}).items()}


def handlers_fingerprint(spec: dict, agg_type: str) -> str:
    """SHA-256 (hex) of the canonical JSON of {event_type: handler} for `agg_type`: equal
    for two specs exactly when every event type's handler is the same in both (event
    types without a handler count as []: they fold nothing)."""
    return hashlib.sha256(canonical(handlers_of(spec, agg_type))).hexdigest()


def state_bytes(state) -> bytes:
    """A state as stored and hashed: canonical JSON."""
    return canonical(state)


def state_digest(state) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of the state's canonical JSON."""
    raw = state_bytes(state)
    return len(raw), hashlib.sha256(raw).hexdigest()
