"""Device identity: an address is the BLAKE2b-128 of the Ed25519 public key."""
from __future__ import annotations

import hashlib
import re

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# <32 hex device id>@<server name>: the one definition, used by every request schema
# (the server name in printable ASCII without '@': IDNs travel as punycode)
ADDRESS_PATTERN = r"^[0-9a-fA-F]{32}@[!-?A-~]{1,253}$"


def parse_public_key(text: str) -> bytes:
    if not isinstance(text, str) or not _HEX64.match(text.lower()):
        raise ValueError("public_key must be 64 hex characters (a raw Ed25519 key)")
    return bytes.fromhex(text)


def device_id(public_key: bytes) -> str:
    return hashlib.blake2b(public_key, digest_size=16).hexdigest()


def device_address(public_key: bytes, server_name: str) -> str:
    return f"{device_id(public_key)}@{server_name}"


def split_address(address: str) -> tuple[str, str]:
    """(device_id, server) or ValueError for anything that is not an address."""
    if not isinstance(address, str) or not re.match(ADDRESS_PATTERN, address):
        raise ValueError("device_address must be <32 hex>@<server name>")
    device_id, _, server = address.partition("@")
    return device_id.lower(), server
