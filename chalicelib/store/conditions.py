"""Telling a lost conditional write from a real failure."""
from __future__ import annotations


def condition_failed(exc: Exception) -> bool:
    code = getattr(exc, "cause_response_code", None)
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def update_if(item, actions, condition) -> bool:
    """A conditional UpdateItem: True when applied, False when the condition did not hold
    (nothing changed); any other failure raises."""
    from pynamodb.exceptions import UpdateError
    try:
        item.update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
