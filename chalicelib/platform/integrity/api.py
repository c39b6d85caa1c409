"""Seed 000's audit routes: Merkle roots and proofs and hash-chain checks, on the
internal, ops and data surfaces from one handler each.

`agg_type` and `agg_id` follow the data plane's rules on every surface (checked before
the handler runs: http/requests.py PATH_PARAMETERS), so no stream key is built from a
name the data plane could not have written."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.errors import invalid
from chalicelib.http.schemas import COUNT, STRING, array, data_ok, nullable, obj
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.integrity import service as integrity
from chalicelib.store.keys import stream_key

bp = Blueprint(__name__)

_SIZE = {"type": "integer", "minimum": 1}
PROOF_QUERY = {"tree_size": _SIZE}
CONSISTENCY_QUERY = {"old_size": _SIZE, "new_size": _SIZE}
_HASH = {"type": "string", "maxLength": 200}
VERIFY = {
    "oneOf": [
        {"type": "object", "required": ["leafIdx", "treeSize", "leafHash", "proof", "root"],
         "properties": {"leafIdx": {"type": "integer"}, "treeSize": {"type": "integer"},
                        "leafHash": _HASH, "root": _HASH,
                        "proof": {"type": ["array", "null"], "items": _HASH, "maxItems": 64}}},
        {"type": "object", "required": ["size1", "size2", "root1", "root2", "proof"],
         "properties": {"size1": {"type": "integer"}, "size2": {"type": "integer"},
                        "root1": _HASH, "root2": _HASH,
                        "proof": {"type": ["array", "null"], "items": _HASH, "maxItems": 128}}},
    ],
    "description": "An RFC 6962 inclusion or consistency proof, hashes in base64 or hex "
                   "(the field names of the transparency-dev test vectors)",
}

_B64_HASH = {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
             "description": "a SHA-256 hash, base64"}
_HEX_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "a SHA-256 hash, hex"}
_STREAM = {"type": "string", "description": "<agg_type>/<agg_id>"}
ROOT_ANSWER = data_ok({"stream": _STREAM, "treeSize": COUNT, "root": _B64_HASH,
                       "root_hex": _HEX_HASH})
INCLUSION_ANSWER = data_ok({
    "stream": _STREAM, "leafIdx": COUNT, "treeSize": {**COUNT, "minimum": 1},
    "leafHash": _B64_HASH, "proof": array(_B64_HASH), "root": _B64_HASH,
    "leaf": obj({"stream": _STREAM, "position": COUNT, "content_hash": _HEX_HASH,
                 "encoding": {**STRING, "description": "how leafHash is computed"}}),
})
CONSISTENCY_ANSWER = data_ok({
    "stream": _STREAM, "size1": {**COUNT, "minimum": 1}, "size2": {**COUNT, "minimum": 1},
    "root1": _B64_HASH, "root2": _B64_HASH, "proof": array(_B64_HASH),
})
_CHAIN = {"length": COUNT, "checked": COUNT, "chain_head": nullable(_HEX_HASH)}
CHAIN_ANSWER = {
    "anyOf": [
        data_ok({**_CHAIN, "valid": {"const": True}, "first_bad_index": {"type": "null"}}),
        data_ok({**_CHAIN, "valid": {"const": False}, "first_bad_index": COUNT,
                 "reason": {**STRING, "description": "what mismatched, and where"}}),
    ],
    "description": "ok is true whenever the check ran; valid tells whether the chain holds",
}
VERIFY_ANSWER = {
    "anyOf": [
        data_ok({"kind": {"enum": ["inclusion", "consistency"]}, "valid": {"const": True}}),
        data_ok({"kind": {"enum": ["inclusion", "consistency", "unknown"]},
                 "valid": {"const": False}, "reason": STRING}),
    ],
    "description": "ok is true whenever the proof was checked; valid tells whether it holds "
                   "(kind is unknown when a hash of the proof could not be read)",
}


def _stream(ctx, params) -> str:
    instance_id, env = where(ctx, params)
    return stream_key(instance_id, env, params["agg_type"], params["agg_id"])


@on_every_surface(bp, "GET", "/audit/merkle-root/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/merkle-root",
                  summary="Merkle root (RFC 6962) of an aggregate's events", permission="manage_ops",
                  response=ROOT_ANSWER,
                  errors=("AGGREGATE_NOT_FOUND",))
def merkle_root(ctx, **params):
    return integrity.merkle_root(_stream(ctx, params), params["agg_type"], params["agg_id"])


@on_every_surface(bp, "GET", "/audit/merkle-proof/{agg_type}/{agg_id}/{index}",
                  "/{agg_type}/{agg_id}/audit/merkle-proof/{index}",
                  summary="Inclusion proof of one event (optionally at an earlier tree_size)",
                  permission="manage_ops", query=PROOF_QUERY, response=INCLUSION_ANSWER,
                  errors=("AGGREGATE_NOT_FOUND", "INTEGRITY_ERROR"))
def merkle_proof(ctx, **params):
    index = _index(params["index"])
    return integrity.inclusion(_stream(ctx, params), params["agg_type"], params["agg_id"], index,
                               ctx.query.get("tree_size"))


@on_every_surface(bp, "GET", "/audit/merkle-consistency/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/merkle-consistency",
                  summary="Consistency proof between two tree sizes (append-only evidence)",
                  permission="manage_ops", query={**CONSISTENCY_QUERY},
                  required_query=("old_size",),
                  response=CONSISTENCY_ANSWER,
                  errors=("AGGREGATE_NOT_FOUND", "INTEGRITY_ERROR"))
def merkle_consistency(ctx, **params):
    if "old_size" not in ctx.query:
        raise invalid("old_size", "required", "old_size is required")
    return integrity.consistency(_stream(ctx, params), params["agg_type"], params["agg_id"],
                                 ctx.query["old_size"], ctx.query.get("new_size"))


@on_every_surface(bp, "GET", "/audit/verify-chain/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/verify-chain",
                  summary="Recompute and check the aggregate's hash chain", permission="manage_ops",
                  response=CHAIN_ANSWER,
                  errors=("AGGREGATE_NOT_FOUND",))
def verify_chain(ctx, **params):
    return integrity.verify_chain(_stream(ctx, params), params["agg_type"], params["agg_id"])


@on_every_surface(bp, "POST", "/audit/merkle-verify", "/{agg_type}/{agg_id}/audit/merkle-verify",
                  summary="Verify an RFC 6962 inclusion or consistency proof (no storage read)",
                  permission="manage_ops", body=VERIFY, response=VERIFY_ANSWER, read_only=True)
def merkle_verify(ctx, **params):
    if "instance_id" in params:
        where(ctx, params)
    return integrity.verify(ctx.body)


def _index(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise invalid("index", "must be a non-negative integer",
                      "index must be a non-negative integer")
    return int(text)
