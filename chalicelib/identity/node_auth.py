"""The internal surface: workers prove themselves with the node secret."""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.core.errors import AppError
from chalicelib.identity.principal import Principal
from chalicelib.store import secrets

NODE = Principal(subject="node", kind="node")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(presented: str | None) -> Principal:
    """Compare hashes in constant time; only the hash is ever stored."""
    if not presented:
        raise AppError("INVALID_NODE_SECRET")
    expected = secrets.read("node_secret").strip()
    if not hmac.compare_digest(hash_secret(presented), expected):
        raise AppError("INVALID_NODE_SECRET")
    return NODE
