"""Telling a lost conditional write from a real failure."""
from __future__ import annotations


def condition_failed(exc: Exception) -> bool:
    code = getattr(exc, "cause_response_code", None)
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")
