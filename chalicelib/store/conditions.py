"""Telling a lost conditional write from a real failure, in one place.

PynamoDB wraps DynamoDB's errors (PutError, UpdateError, DeleteError,
TransactWriteError); what matters is whether a condition failed, which transaction
items failed it, and whether another transaction was in the way."""
from __future__ import annotations

CONDITION_CODES = ("ConditionalCheckFailedException", "TransactionCanceledException")


def condition_failed(exc: Exception) -> bool:
    """True when a conditional write (or a transaction with one) was refused."""
    return getattr(exc, "cause_response_code", None) in CONDITION_CODES


def reason_codes(exc: Exception) -> list:
    """Per item of a cancelled transaction, in request order: "ConditionalCheckFailed",
    "TransactionConflict", "None" or None; [] for anything that is not a cancellation."""
    try:
        reasons = exc.cancellation_reasons or []
    except Exception:  # noqa: BLE001 - not a cancellation
        return []
    return [getattr(r, "code", None) if r is not None else None for r in reasons]


def transaction_conflict(exc: Exception) -> bool:
    """Another transaction held an item: retrying after a pause is the cure."""
    return "TransactionConflict" in reason_codes(exc) or getattr(
        exc, "cause_response_code", None) in ("TransactionConflictException",
                                              "TransactionInProgressException")


def field_actions(model, changes: dict) -> list:
    """UpdateItem actions that set each field of `changes`, or remove it where None."""
    return [getattr(model, name).remove() if value is None else getattr(model, name).set(value)
            for name, value in changes.items()]


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


def save_if(item, condition) -> bool:
    """A conditional PutItem: True when written, False when the condition did not hold."""
    from pynamodb.exceptions import PutError
    try:
        item.save(condition=condition)
        return True
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise


def delete_if(item, condition) -> bool:
    """A conditional DeleteItem: True when deleted, False when the condition did not hold."""
    from pynamodb.exceptions import DeleteError
    try:
        item.delete(condition=condition)
        return True
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
