"""The internal surface: the chat server and workers, authenticated by node secret."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.devices import service as devices
from chalicelib.domain import trust
from chalicelib.http.routing import route
from chalicelib.http.schemas import DEVICE_ADDRESS, UNIX_SECONDS, obj

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
       tags=("internal",))
def register_device(ctx):
    record, created = devices.register(ctx.body["public_key"], ctx.body.get("device_address"))
    if not created:
        ctx.status = 200
    return record


@route(bp, "/internal/devices/{device_address}", "GET", summary="A registered device",
       auth="node", response=DEVICE_ANSWER, tags=("internal",))
def get_device(ctx, device_address):
    return devices.get(device_address)
