"""API key text: a readable prefix, high-entropy body, stored only as a hash."""
from __future__ import annotations

import hashlib
import re
import secrets
import string

from chalicelib.domain.environments import ENVIRONMENTS

SCOPES = ("read", "write", "admin")
SCOPE_RANK = {"read": 1, "write": 2, "admin": 3}
_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 32  # ~190 bits: a fast hash suffices, no stretching needed
_KEY = re.compile(r"^j17_0_(%s)_[A-Za-z0-9]{32}$" % "|".join(ENVIRONMENTS))
DISPLAY_CHARS = 4


def generate(environment: str) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return f"j17_0_{environment}_{body}"


def key_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def display_prefix(text: str) -> str:
    head, _, body = text.rpartition("_")
    return f"{head}_{body[:DISPLAY_CHARS]}"


def well_formed(text: str) -> bool:
    return bool(_KEY.match(text or ""))


def scope_allows(granted: str, needed: str) -> bool:
    """admin includes write includes read."""
    return SCOPE_RANK.get(granted, 0) >= SCOPE_RANK[needed]


def is_live(revoked_at, revoke_at, now: float) -> bool:
    """Not revoked, and not past a scheduled revocation: the one test of a usable key."""
    return revoked_at is None and (revoke_at is None or revoke_at > now)
