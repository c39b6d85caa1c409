"""The internal surface: the chat server and workers, authenticated by node secret."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.chat.devices import service as devices
from chalicelib.http.routing import route

bp = Blueprint(__name__)

REGISTER_DEVICE = {
    "type": "object", "additionalProperties": False, "required": ["public_key"],
    "properties": {"public_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                   "device_address": {"type": "string"}},
}


@route(bp, "/internal/devices", "POST", summary="Register a device by its Ed25519 public key",
       auth="node", body=REGISTER_DEVICE, status=201, tags=("internal",))
def register_device(ctx):
    record, created = devices.register(ctx.body["public_key"], ctx.body.get("device_address"))
    if not created:
        ctx.status = 200
    return record


@route(bp, "/internal/devices/{device_address}", "GET", summary="A registered device",
       auth="node", tags=("internal",))
def get_device(ctx, device_address):
    return devices.get(device_address)
