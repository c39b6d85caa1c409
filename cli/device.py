"""Ed25519 admin device keys: the key file (hex of the 32-byte seed, as `make run` writes
.local/admin_device.key), the device address, and the challenge signature."""
from __future__ import annotations

import hashlib
import re

from nacl.signing import SigningKey

_HEX_SEED = re.compile(r"^[0-9a-fA-F]{64}$")


def new_seed() -> bytes:
    return bytes(SigningKey.generate())


def parse_seed(text: str) -> bytes:
    text = text.strip()
    if not _HEX_SEED.match(text):
        raise ValueError("a key file holds the hex of a 32-byte Ed25519 seed (64 hex characters)")
    return bytes.fromhex(text)


def public_key(seed: bytes) -> bytes:
    return SigningKey(seed).verify_key.encode()


def device_id(seed: bytes) -> str:
    return hashlib.blake2b(public_key(seed), digest_size=16).hexdigest()


def address(seed: bytes, server_name: str) -> str:
    return f"{device_id(seed)}@{server_name}"


def sign(seed: bytes, challenge: str) -> str:
    return SigningKey(seed).sign(challenge.encode("utf-8")).signature.hex()
