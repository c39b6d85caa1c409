"""The error every malformed proof or input raises, ``ProofError``, and the checks that
raise it: sizes and indices must be non-negative integers, hashes bytes of
``HASH_SIZE``, proofs lists of hashes of the expected length. Inputs may come straight
from a request body, so these turn a bad one into ProofError rather than a TypeError or
IndexError."""
from __future__ import annotations

HASH_SIZE = 32  # every hash here is a SHA-256 digest


class ProofError(ValueError):
    """A proof (or its inputs) does not verify; the message says why."""


def check_int(value, what: str) -> None:
    if type(value) is not int or value < 0:  # bool is an int subclass: refuse it too
        raise ProofError(f"{what} must be a non-negative integer, got {value!r}")


def as_bytes(value, what: str, exact: bool = True) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProofError(f"{what} must be bytes, got {type(value).__name__}")
    value = bytes(value)
    if exact and len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def as_proof(proof, expected_len: int) -> list[bytes]:
    if proof is None:  # JSON null, as the reference vectors write an empty proof
        proof = []
    if not isinstance(proof, (list, tuple)):
        raise ProofError(f"proof must be a list of hashes, got {type(proof).__name__}")
    if len(proof) != expected_len:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected_len}")
    return [as_bytes(p, f"proof[{i}]") for i, p in enumerate(proof)]
