"""The device registry, filled by the chat server over the internal surface (node secret):
registering devices by public key, reading one, and reporting which are active."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.devices import service as devices
from chalicelib.domain import trust
from chalicelib.http.routing import route
from chalicelib.http.schemas import COUNT, DEVICE_ADDRESS, UNIX_SECONDS, array, obj

bp = Blueprint(__name__)

REGISTER_DEVICE = {
    "type": "object", "additionalProperties": False, "required": ["public_key"],
    "properties": {"public_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                   "device_address": {"type": "string"}},
}
DEVICE_ANSWER = obj({
    "device_address": DEVICE_ADDRESS,
    "public_key": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                   "description": "Ed25519 public key, hex"},
    "trust_tier": {"type": "string", "enum": list(trust.TIERS) + [trust.BLOCKED],
                   "description": "as of now (it changes with the device's age)"},
    "first_seen": UNIX_SECONDS,
})


@route(bp, "/internal/devices", "POST", summary="Register a device by its Ed25519 public key",
       auth="node", body=REGISTER_DEVICE, response=DEVICE_ANSWER, status=201, statuses=(200,),
       tags=("internal",),
       errors=("DEVICE_KEY_MISMATCH",))
def register_device(ctx):
    record, created = devices.register(ctx.body["public_key"], ctx.body.get("device_address"))
    if not created:
        ctx.status = 200
    return record


@route(bp, "/internal/devices/{device_address}", "GET", summary="A registered device",
       auth="node", response=DEVICE_ANSWER, tags=("internal",),
       errors=("DEVICE_NOT_FOUND",))
def get_device(ctx, device_address):
    return devices.get(device_address)


ACTIVITY = {"type": "object", "additionalProperties": False, "required": ["device_addresses"],
            "properties": {"device_addresses": {
                "type": "array", "minItems": 1, "maxItems": devices.MAX_ACTIVITY_BATCH,
                "items": DEVICE_ADDRESS}}}
ACTIVITY_ANSWER = obj({
    "recorded": {**COUNT, "description": "devices whose last_seen moved"},
    "unchanged": {**COUNT, "description": "devices seen too recently to move again"},
    "unknown": {**array(DEVICE_ADDRESS), "description": "addresses of no registered device"},
})


@route(bp, "/internal/devices/activity", "POST",
       summary="Devices seen active now (for active-device counts)",
       auth="node", body=ACTIVITY, response=ACTIVITY_ANSWER, tags=("internal",))
def device_activity(ctx):
    return devices.record_activity(ctx.body["device_addresses"])
