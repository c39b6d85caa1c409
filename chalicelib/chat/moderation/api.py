"""Moderation (what the permissions seed 004 sends to "the Moderation API" allow):
device trust and rate limits, federation blocks, and the chat server's internal calls
that feed them (federation peers, spam reports, effective rate limits)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.moderation import service as moderation
from chalicelib.domain import trust
from chalicelib.http.routing import route
from chalicelib.http.schemas import (
    BOOLEAN,
    COUNT,
    DEVICE_ADDRESS,
    INTEGER,
    STRING,
    UNIX_SECONDS,
    array,
    nullable,
    obj,
)

bp = Blueprint(__name__)

REASON = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}
FUTURE_UNIX = {"type": "integer", "minimum": 0, "maximum": 253402300799,
               "description": "Unix seconds, in the future"}
DOMAIN = {"type": "string", "maxLength": 253, "pattern": trust.DOMAIN_PATTERN,
          "description": "The server's hostname, e.g. chat.example.org (case-insensitive, "
                         "one trailing dot allowed; IDNs in punycode)"}

DEVICE_ACT = {"type": "object", "additionalProperties": False,
              "required": ["device_address", "reason"],
              "properties": {"device_address": DEVICE_ADDRESS, "reason": REASON}}
SET_RATE_LIMIT = {
    "type": "object", "additionalProperties": False,
    "required": ["device_address", "custom_rate_limit", "reason"],
    "properties": {"device_address": DEVICE_ADDRESS,
                   "custom_rate_limit": {"type": ["integer", "null"], "minimum": 0,
                                         "maximum": 100000,
                                         "description": "Messages per rate-limit window; "
                                                        "null removes the custom limit"},
                   "reason": REASON, "expires_at": FUTURE_UNIX},
}
BLOCK = {"type": "object", "additionalProperties": False, "required": ["domain", "reason"],
         "properties": {"domain": DOMAIN, "reason": REASON, "expires_at": FUTURE_UNIX}}
UNBLOCK = {"type": "object", "additionalProperties": False, "required": ["domain"],
           "properties": {"domain": DOMAIN, "reason": REASON}}
PEER = {"type": "object", "additionalProperties": False, "required": ["domain"],
        "properties": {"domain": DOMAIN}}
SPAM_REPORT = {"type": "object", "additionalProperties": False,
               "properties": {"reporter": {"type": "string", "minLength": 1, "maxLength": 300,
                                           "description": "Who reported (counted once per "
                                                          "reporter)"},
                              "reason": {"type": "string", "maxLength": 500}}}
# --- answers -------------------------------------------------------------------------------

_LIMIT = {**INTEGER, "minimum": 0, "description": "messages per rate-limit window"}
TIER = {"type": "string", "enum": [*trust.TIERS, trust.BLOCKED]}
DISPLAY_TIER = {"type": "string", "enum": [trust.display(t) for t in TIER["enum"]],
                "description": "the tier as the seed names it, e.g. Verified"}
SOURCE = {"type": "string", "enum": [trust.SOURCE_BLOCKED, trust.SOURCE_CUSTOM,
                                     trust.SOURCE_VERIFIED, trust.SOURCE_PROGRESSIVE],
          "description": "where the effective rate limit comes from"}

VERIFY_ANSWER = obj({"device_address": DEVICE_ADDRESS,
                     "trust_tier": {"const": trust.display(trust.VERIFIED)},
                     "rate_limit": _LIMIT, "verified_at": UNIX_SECONDS, "verified_by": STRING})
REVOKE_ANSWER = obj({"device_address": DEVICE_ADDRESS, "trust_tier": DISPLAY_TIER,
                     "rate_limit": _LIMIT, "source": SOURCE, "revoked_at": UNIX_SECONDS,
                     "revoked_by": STRING})
UNBLOCK_DEVICE_ANSWER = obj({"device_address": DEVICE_ADDRESS, "trust_tier": DISPLAY_TIER,
                             "rate_limit": _LIMIT, "source": SOURCE,
                             "spam_reports": {"const": 0}})
RATE_LIMIT_ANSWER = obj({
    "device_address": DEVICE_ADDRESS, "trust_tier": DISPLAY_TIER, "rate_limit": _LIMIT,
    "source": SOURCE,
    "custom_rate_limit": {**nullable(_LIMIT), "description": "null: no custom limit in force"},
    "expires_at": {**nullable(UNIX_SECONDS), "description": "the custom limit's end; null: "
                                                            "permanent or none"},
    "reason": nullable(STRING),
    "previous_rate_limit": _LIMIT,
})
PEER_ANSWER = obj({
    "domain": {**STRING, "description": "lower-cased hostname"},
    "first_seen": UNIX_SECONDS,
    "last_seen": {**nullable(UNIX_SECONDS), "description": "null until the chat server "
                                                           "reports the peer"},
    "blocked": BOOLEAN,
    "blocked_at": nullable(UNIX_SECONDS),
    "blocked_by": nullable(STRING),
    "reason": nullable(STRING),
    "expires_at": {**nullable(UNIX_SECONDS), "description": "null: permanent (or not blocked)"},
    "auto_blocked": BOOLEAN,
})
BLOCKED_PEERS_ANSWER = obj({
    "blocked_peers": {**array(PEER_ANSWER), "description": "newest block first"},
    "total_count": COUNT,
})
SPAM_REPORT_ANSWER = obj({
    "device_address": DEVICE_ADDRESS,
    "spam_reports": COUNT,
    "counted": {**BOOLEAN, "description": "false when this reporter had already reported it"},
    "threshold": COUNT,
    "blocked": BOOLEAN,
    "auto_blocked": {**BOOLEAN, "description": "true when this report blocked the device"},
})
EFFECTIVE_LIMIT_ANSWER = obj({
    "device_address": DEVICE_ADDRESS, "trust_tier": TIER, "rate_limit": _LIMIT,
    "source": SOURCE,
    "expires_at": {**nullable(UNIX_SECONDS), "description": "the custom limit's end"},
    "next_tier_at": {**nullable(UNIX_SECONDS),
                     "description": "progressive only: when the tier and its limit change"},
})

# --- device trust (admin) --------------------------------------------------------------------

@route(bp, "/admin/v1/trust/verify", "POST", summary="Verify a device (trust tier Verified)",
       permission="verify_devices", body=DEVICE_ACT, response=VERIFY_ANSWER,
       audit="device_verified", tags=("moderation",),
       errors=("DEVICE_NOT_FOUND", "DEVICE_ALREADY_VERIFIED", "DEVICE_BLOCKED"))
def verify_device(ctx):
    return moderation.verify(ctx.act, ctx.body["device_address"], ctx.body["reason"])


@route(bp, "/admin/v1/trust/revoke", "POST", summary="Revoke a device's verification",
       permission="verify_devices", body=DEVICE_ACT, response=REVOKE_ANSWER,
       audit="verification_revoked",
       tags=("moderation",),
       errors=("DEVICE_NOT_FOUND", "DEVICE_NOT_VERIFIED"))
def revoke_verification(ctx):
    return moderation.revoke_verification(ctx.act, ctx.body["device_address"],
                                          ctx.body["reason"])


@route(bp, "/admin/v1/trust/unblock", "POST",
       summary="Lift a device's block (e.g. the spam threshold's); its report count restarts",
       permission="verify_devices", body=DEVICE_ACT, response=UNBLOCK_DEVICE_ANSWER,
       audit="device_unblocked",
       tags=("moderation",),
       errors=("DEVICE_NOT_FOUND", "DEVICE_NOT_BLOCKED"))
def unblock_device(ctx):
    return moderation.unblock_device(ctx.act, ctx.body["device_address"], ctx.body["reason"])


@route(bp, "/admin/v1/trust/set-rate-limit", "POST",
       summary="A custom rate limit for a device, permanent or until expires_at",
       permission="modify_rate_limits", body=SET_RATE_LIMIT, response=RATE_LIMIT_ANSWER,
       audit="rate_limit_modified",
       tags=("moderation",),
       errors=("DEVICE_NOT_FOUND",))
def set_rate_limit(ctx):
    return moderation.set_rate_limit(ctx.act, ctx.body["device_address"],
                                     ctx.body["custom_rate_limit"], ctx.body["reason"],
                                     ctx.body.get("expires_at"))


# --- federation (admin) ----------------------------------------------------------------------

@route(bp, "/admin/v1/federation/block", "POST",
       summary="Block a server domain, permanently or until expires_at",
       permission="block_federation", body=BLOCK, response=PEER_ANSWER,
       audit="federation_blocked",
       tags=("moderation",),
       errors=("PEER_ALREADY_BLOCKED",))
def block_federation(ctx):
    return moderation.block_peer(ctx.act, ctx.body["domain"], ctx.body["reason"],
                                 ctx.body.get("expires_at"))


@route(bp, "/admin/v1/federation/unblock", "POST", summary="Lift a server domain's block",
       permission="block_federation", body=UNBLOCK, response=PEER_ANSWER,
       audit="federation_unblocked",
       tags=("moderation",),
       errors=("PEER_NOT_FOUND", "PEER_NOT_BLOCKED"))
def unblock_federation(ctx):
    return moderation.unblock_peer(ctx.act, ctx.body["domain"], ctx.body.get("reason"))


@route(bp, "/admin/v1/federation/blocked", "GET", summary="Server domains blocked now",
       permission="block_federation", response=BLOCKED_PEERS_ANSWER, tags=("moderation",))
def list_blocked_federation(ctx):
    peers = moderation.blocked_peers()
    return {"blocked_peers": peers, "total_count": len(peers)}


# --- the chat server (internal) ---------------------------------------------------------------

@route(bp, "/internal/federation/peers", "POST",
       summary="Register a federation peer (201 new, 200 known: last_seen moves)",
       auth="node", body=PEER, response=PEER_ANSWER, status=201, statuses=(200,),
       tags=("internal",))
def register_peer(ctx):
    record, created = moderation.register_peer(ctx.body["domain"])
    if not created:
        ctx.status = 200
    return record


@route(bp, "/internal/devices/{device_address}/spam-reports", "POST",
       summary="Report a device for spam; at the threshold it is blocked",
       auth="node", body=SPAM_REPORT, body_required=False, response=SPAM_REPORT_ANSWER,
       status=201, tags=("internal",),
       errors=("DEVICE_NOT_FOUND",))
def report_spam(ctx, device_address):
    return moderation.report_spam(device_address, ctx.body.get("reporter"),
                                  ctx.body.get("reason"), ctx.origin)


@route(bp, "/internal/devices/{device_address}/rate-limit", "GET",
       summary="The rate limit to enforce for a device now, and where it comes from",
       auth="node", response=EFFECTIVE_LIMIT_ANSWER, tags=("internal",),
       errors=("DEVICE_NOT_FOUND",))
def device_rate_limit(ctx, device_address):
    return moderation.rate_limit(device_address)
