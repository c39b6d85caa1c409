"""Seed 000's audit routes: Merkle roots and proofs and hash-chain checks, on the
internal, ops and data surfaces from one handler each."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.domain import events as ev
from chalicelib.http.surfaces import on_every_surface, where
from chalicelib.platform.integrity import service as integrity

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


def _stream(ctx, params) -> str:
    instance_id, env = where(ctx, params)
    return ev.stream_key(instance_id, env, params["agg_type"], params["agg_id"])


@on_every_surface(bp, "GET", "/audit/merkle-root/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/merkle-root",
                  summary="Merkle root (RFC 6962) of an aggregate's events", permission="manage_ops")
def merkle_root(ctx, **params):
    return integrity.merkle_root(_stream(ctx, params), params["agg_type"], params["agg_id"])


@on_every_surface(bp, "GET", "/audit/merkle-proof/{agg_type}/{agg_id}/{index}",
                  "/{agg_type}/{agg_id}/audit/merkle-proof/{index}",
                  summary="Inclusion proof of one event (optionally at an earlier tree_size)",
                  permission="manage_ops", query=PROOF_QUERY)
def merkle_proof(ctx, **params):
    index = _index(params["index"])
    return integrity.inclusion(_stream(ctx, params), params["agg_type"], params["agg_id"], index,
                               ctx.query.get("tree_size"))


@on_every_surface(bp, "GET", "/audit/merkle-consistency/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/merkle-consistency",
                  summary="Consistency proof between two tree sizes (append-only evidence)",
                  permission="manage_ops", query={**CONSISTENCY_QUERY})
def merkle_consistency(ctx, **params):
    from chalicelib.core.errors import AppError
    if "old_size" not in ctx.query:
        raise AppError("VALIDATION_ERROR", "old_size is required",
                       details=[{"path": "old_size", "message": "required"}])
    return integrity.consistency(_stream(ctx, params), params["agg_type"], params["agg_id"],
                                 ctx.query["old_size"], ctx.query.get("new_size"))


@on_every_surface(bp, "GET", "/audit/verify-chain/{agg_type}/{agg_id}",
                  "/{agg_type}/{agg_id}/audit/verify-chain",
                  summary="Recompute and check the aggregate's hash chain", permission="manage_ops")
def verify_chain(ctx, **params):
    return integrity.verify_chain(_stream(ctx, params), params["agg_type"], params["agg_id"])


@on_every_surface(bp, "POST", "/audit/merkle-verify", "/{agg_type}/{agg_id}/audit/merkle-verify",
                  summary="Verify an RFC 6962 inclusion or consistency proof (no storage read)",
                  permission="manage_ops", body=VERIFY, read_only=True)
def merkle_verify(ctx, **params):
    if "instance_id" in params:
        where(ctx, params)
    return integrity.verify(ctx.body)


def _index(text: str) -> int:
    from chalicelib.core.errors import AppError
    if not text.isdigit() or len(text) > 12:
        raise AppError("VALIDATION_ERROR", "index must be a non-negative integer",
                       details=[{"path": "index", "message": "must be a non-negative integer"}])
    return int(text)
