"""5xx answers carry only an error_id; the details are kept here for operators.

Not when the store itself is out of reach (the wrapper's 503): writing there would wait
out the SDK's timeouts a second time, so that error is only logged, under its error_id."""
from __future__ import annotations

import traceback

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.store.tables import ErrorRecord

RETENTION_SECONDS = 30 * 86400


def new_id() -> str:
    return clock.new_id("err_")


def record(exc: BaseException, route: str, method: str, context: dict,
           error_id: str | None = None) -> str:
    """Store the error under `error_id` (a new one unless given); the id."""
    error_id = error_id or new_id()
    now = clock.now_int()
    ErrorRecord(error_id=error_id, created_at=now, route=route, method=method,
                instance_id=context.get("instance_id"), environment=context.get("environment"),
                error_type=type(exc).__name__, message=str(exc)[:2000],
                stack_trace="".join(traceback.format_exception(exc))[-20000:],
                context=context, ttl=now + RETENTION_SECONDS).save()
    return error_id


def lookup(error_id: str, instance_id: str, environment: str) -> dict:
    """An error of this instance and environment, or of the control plane itself."""
    try:
        rec = ErrorRecord.get(error_id)
    except ErrorRecord.DoesNotExist:
        raise AppError("ERROR_NOT_FOUND")
    if rec.instance_id not in (None, instance_id) or rec.environment not in (None, environment):
        raise AppError("ERROR_NOT_FOUND")
    return {"error_id": rec.error_id, "created_at": clock.iso(rec.created_at),
            "route": rec.route, "method": rec.method, "instance_id": rec.instance_id,
            "environment": rec.environment, "error_type": rec.error_type,
            "message": rec.message, "stack_trace": rec.stack_trace, "context": rec.context}
