"""The device registry the chat server fills over the internal API."""
from __future__ import annotations

from chalicelib.core import clock, settings
from chalicelib.core.errors import AppError, invalid
from chalicelib.domain import devices as ids
from chalicelib.domain import trust
from chalicelib.store import device_counters as device_stats
from chalicelib.store import server_config as config_store
from chalicelib.store.tables import Device


def to_json(device: Device) -> dict:
    # the tier changes with age: computed, not stored
    tier = trust.of_device(device, clock.now(), config_store.trust_config()).tier
    return {"device_address": device.device_address, "public_key": device.public_key,
            "trust_tier": tier, "first_seen": int(device.first_seen)}


def register(public_key_hex: str, device_address: str | None = None) -> tuple[dict, bool]:
    """(record, created). Registering the same key again returns the first record."""
    try:
        key = ids.parse_public_key(public_key_hex)
    except ValueError as exc:
        raise invalid("public_key", str(exc), str(exc))
    address = ids.device_address(key, settings.get().server_name)
    if device_address is not None and device_address.lower() != address:
        raise AppError("DEVICE_KEY_MISMATCH",
                       f"device_address should be {address} for this public key")
    device = Device(device_address=address, public_key=key.hex(), first_seen=clock.now_int(),
                    trust_tier="new")
    # saved with its counters in one transaction; counted only when new
    if device_stats.create_device(device):
        return to_json(device), True
    return to_json(Device.get(address, consistent_read=True)), False


def get(address: str) -> dict:
    try:
        return to_json(Device.get(address.lower()))
    except Device.DoesNotExist:
        raise AppError("DEVICE_NOT_FOUND")


MAX_ACTIVITY_BATCH = device_stats.MAX_ACTIVITY_BATCH


def record_activity(addresses: list[str]) -> dict:
    """Devices seen active now: their last_seen and the active-device counters move
    together, at most once a minute per device."""
    return device_stats.record_activity(addresses)
