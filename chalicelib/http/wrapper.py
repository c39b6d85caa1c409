"""The one wrapper every route runs in: authenticate, rate-limit, read the request as
declared, call the handler, write the act's audit entry, and answer every error in the
documented shape (a crash becomes a 500 with an error_id, never a stack trace)."""
from __future__ import annotations

import json
from typing import Callable

from chalicelib.core.errors import AppError
from chalicelib.http import guards, requests
from chalicelib.http.declarations import RouteSpec
from chalicelib.identity import audit
from chalicelib.identity.principal import Origin

RETRY_AFTER_SECONDS = 5   # a 503 for a backend out of reach


class Ctx:
    """What a handler gets besides its path parameters."""

    def __init__(self, spec: RouteSpec, request, principal, body, query, origin: Origin):
        self.spec = spec
        self.request = request
        self.principal = principal
        self.body = body
        self.query = query
        self.origin = origin
        self.status = spec.status
        self.headers: dict = {}
        self.count_in_write = None  # a rate count the handler's transaction makes

    @property
    def act(self) -> audit.Act:
        """The audited act this call is: the caller, the route's action, the origin."""
        return audit.Act(self.principal, self.spec.audit, self.origin)


def dispatch(spec: RouteSpec, fn: Callable, request, params: dict):
    from chalice import Response

    origin = Origin(ip_address=requests.source_ip(request),
                    user_agent=requests.header(request, "user-agent"))
    try:
        principal = guards.authenticate(spec, request, params)
        limits, ctx_count = guards.rate_limit(spec, principal, origin)
        ctx = Ctx(spec, request, principal, requests.body(spec, request),
                  requests.query(spec, request), origin)
        ctx.headers.update(limits)
        ctx.count_in_write = ctx_count
        result = fn(ctx, **params)
        if spec.audit:
            result = _audited(spec, ctx, result)
        if isinstance(result, Response):
            return result
        return Response(body=_json(result), status_code=ctx.status,
                        headers={"Content-Type": "application/json", **ctx.headers})
    except AppError as err:
        return _error(spec, err)
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into 500s
        return _internal_error(spec, exc, params, request)


def _audited(spec: RouteSpec, ctx: Ctx, result):
    """An audited handler answers (answer, Note); the entry is written here unless the act
    already wrote it in its own transaction. The act is done either way: a missing note
    is logged, never answered as a failure the client would retry (the route-table
    tests catch it before release)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], audit.Note):
        answer, note = result
        if not note.written:
            audit.Act(ctx.principal, spec.audit, ctx.origin).record(note)
        return answer
    from chalicelib.core.observability import logger
    logger.error("audited route answered without an audit note",
                 extra={"route": f"{spec.method} {spec.path}", "action": spec.audit})
    return result


def _error(spec: RouteSpec, err: AppError):
    from chalice import Response
    body = err.data_body() if spec.surface == "data" else err.admin_body()
    return Response(body=_json(body), status_code=err.status,
                    headers={"Content-Type": "application/json", **err.headers})


def _internal_error(spec: RouteSpec, exc: Exception, params: dict, request):
    """A crash: 500 with an error_id whose record holds the context and trace. A backend
    out of reach: 503 with Retry-After, and the error only logged (under its error_id,
    so the log line can be found), since the record would go to the same dead backend
    and the answer would wait out the SDK's timeouts twice."""
    from chalicelib.core.observability import logger
    from chalicelib.http import error_log

    context = {"path": request.path if hasattr(request, "path") else spec.path,
               "params": params, "query": dict(request.query_params or {}),
               "request_id": requests.request_id(request),
               "instance_id": params.get("instance_id"), "environment": params.get("env")}
    error_id = error_log.new_id()
    if _backend_unreachable(exc):
        logger.exception("backend unreachable", extra={
            "error_id": error_id, "route": spec.path, "method": spec.method,
            "error_type": type(exc).__name__, "context": context})
        return _error(spec, AppError("SERVICE_UNAVAILABLE", extra={"error_id": error_id},
                                     headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))
    try:
        error_log.record(exc, spec.path, spec.method, context, error_id=error_id)
    except Exception:  # noqa: BLE001 - storage down: still answer without a trace
        logger.exception("could not store error record", extra={"error_id": error_id})
    logger.exception("unhandled error", extra={"error_id": error_id, "route": spec.path})
    return _error(spec, AppError("INTERNAL_ERROR", extra={"error_id": error_id}))


def _backend_unreachable(exc: BaseException) -> bool:
    """DynamoDB, S3 or Secrets Manager out of reach: 503 and retry, not a bug."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
