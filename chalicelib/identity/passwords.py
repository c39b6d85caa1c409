"""argon2id password hashes (PyNaCl's libsodium binding)."""
from __future__ import annotations

from chalicelib.core import settings

_PROFILES = {
    # name -> (opslimit, memlimit); "fast" exists for the test suite only
    "interactive": ("OPSLIMIT_INTERACTIVE", "MEMLIMIT_INTERACTIVE"),
    "moderate": ("OPSLIMIT_MODERATE", "MEMLIMIT_MODERATE"),
    "fast": ("OPSLIMIT_MIN", "MEMLIMIT_MIN"),
}
_dummy_hash: bytes | None = None


def hash_password(password: str) -> str:
    from nacl import pwhash
    ops, mem = _PROFILES[settings.get().pwhash_profile]
    return pwhash.argon2id.str(password.encode(), opslimit=getattr(pwhash.argon2id, ops),
                               memlimit=getattr(pwhash.argon2id, mem)).decode()


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the account exists, so timing tells nothing."""
    from nacl import exceptions, pwhash
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = hash_password("not-a-password").encode()
        target, password = _dummy_hash, "\x00" + password
    else:
        target = stored.encode()
    try:
        return pwhash.argon2id.verify(target, password.encode()) and stored is not None
    except exceptions.InvalidkeyError:
        return False
