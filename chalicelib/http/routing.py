"""Route declarations: each route states once who may call it, what body it takes and
what it audits. The wrapper made here enforces all three, answers every error in the
documented shape, and feeds the OpenAPI document and the generated tests."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Callable

from chalicelib.core.errors import AppError

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
ANY_ADMIN = "any"  # any logged-in admin, whatever their permissions
# Chalice refuses other content types with its own error shape before our code runs;
# listing the common ones lets our handler answer in the documented shape instead.
CONTENT_TYPES = ["application/json", "text/plain", "application/x-ndjson",
                 "application/octet-stream", "application/x-www-form-urlencoded"]


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    summary: str
    auth: str                     # "admin" | "node" | "api_key" | "public"
    permission: str | None = None  # admin routes: the permission needed
    scope: str | None = None       # api_key routes: the key scope needed
    body: dict | None = None       # JSON Schema of the body
    query: dict | None = None      # name -> JSON Schema of a query parameter
    audit: str | None = None       # the audit action a successful call records
    status: int = 200
    surface: str = "admin"         # error shape: "admin" (seed 004) or "data" (platform)
    tags: tuple = ()
    body_required: bool = True
    rate_limit: str | None = None
    responses: dict = field(default_factory=dict)
    read_only: bool = False        # a POST that changes nothing (e.g. verifying a proof)

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING and not self.read_only

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


ROUTES: list[RouteSpec] = []


class Ctx:
    """What a handler gets besides its path parameters."""

    def __init__(self, spec: RouteSpec, request, principal, body, query, origin):
        self.spec = spec
        self.request = request
        self.principal = principal
        self.body = body
        self.query = query
        self.origin = origin
        self.status = spec.status
        self.headers: dict = {}

    def audit(self, target: str, details: dict | None = None, action: str | None = None,
              actor=None) -> None:
        from chalicelib.identity import audit
        audit.record(actor or self.principal, action or self.spec.audit, target, details,
                     self.origin)


def route(bp, path: str, method: str, *, summary: str, auth: str = "admin",
          permission: str | None = None, scope: str | None = None, body: dict | None = None,
          query: dict | None = None, audit: str | None = None, status: int = 200,
          surface: str = "admin", tags: tuple = (), body_required: bool = True,
          rate_limit: str | None = None, responses: dict | None = None, name: str | None = None,
          read_only: bool = False):
    if auth == "admin" and not permission:
        raise ValueError(f"{method} {path}: admin routes must name a permission")
    if auth == "admin" and method in MUTATING and not audit and not read_only:
        raise ValueError(f"{method} {path}: mutating admin routes must name an audit action")

    def decorate(fn: Callable):
        spec = RouteSpec(path=path, method=method, name=name or fn.__name__, summary=summary,
                         auth=auth, permission=permission, scope=scope, body=body, query=query,
                         audit=audit, status=status, surface=surface, tags=tags,
                         body_required=body_required, rate_limit=rate_limit,
                         read_only=read_only, responses=responses or {})
        ROUTES.append(spec)

        @functools.wraps(fn)
        def view(**params):
            return dispatch(spec, fn, bp.current_request, params)
        view.__name__ = spec.name  # one handler may serve several surfaces

        bp.route(path, methods=[method], content_types=CONTENT_TYPES)(view)
        return fn

    return decorate


def dispatch(spec: RouteSpec, fn: Callable, request, params: dict):
    from chalice import Response

    from chalicelib.http import guards
    from chalicelib.identity import audit
    from chalicelib.identity.principal import Origin

    origin = Origin(ip_address=_source_ip(request), user_agent=_header(request, "user-agent"))
    audit.begin_request()
    try:
        principal = guards.authenticate(spec, request, params)
        guards.rate_limit(spec, principal)
        body = _parse_body(spec, request)
        query = _parse_query(spec, request)
        ctx = Ctx(spec, request, principal, body, query, origin)
        result = fn(ctx, **params)
        if spec.audit and audit.written() != 1:
            raise RuntimeError(f"{spec.method} {spec.path} wrote {audit.written()} audit "
                               "entries; every admin act writes exactly one")
        if isinstance(result, Response):
            return result
        return Response(body=_json(result), status_code=ctx.status,
                        headers={"Content-Type": "application/json", **ctx.headers})
    except AppError as err:
        body = err.data_body() if spec.surface == "data" else err.admin_body()
        return Response(body=_json(body), status_code=err.status,
                        headers={"Content-Type": "application/json", **err.headers})
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into 500s
        return _internal_error(spec, exc, params, request)


def _internal_error(spec: RouteSpec, exc: Exception, params: dict, request):
    from chalice import Response

    from chalicelib.core.observability import logger
    from chalicelib.http import error_log

    context = {"path": request.path if hasattr(request, "path") else spec.path,
               "params": params, "query": dict(request.query_params or {}),
               "request_id": _request_id(request),
               "instance_id": params.get("instance_id"), "environment": params.get("env")}
    error_id = None
    try:
        error_id = error_log.record(exc, spec.path, spec.method, context)
    except Exception:  # noqa: BLE001 - storage down: still answer without a trace
        logger.exception("could not store error record")
    logger.exception("unhandled error", extra={"error_id": error_id, "route": spec.path})
    kind = "SERVICE_UNAVAILABLE" if _backend_unreachable(exc) else "INTERNAL_ERROR"
    err = AppError(kind, extra={"error_id": error_id})
    body = err.data_body() if spec.surface == "data" else err.admin_body()
    headers = {"Content-Type": "application/json"}
    if kind == "SERVICE_UNAVAILABLE":
        headers["Retry-After"] = "5"
    return Response(body=_json(body), status_code=err.status, headers=headers)


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


def _header(request, name: str) -> str | None:
    return (request.headers or {}).get(name)


def _source_ip(request) -> str | None:
    identity = (request.context or {}).get("identity") or {}
    return identity.get("sourceIp")


def _request_id(request) -> str | None:
    return (request.context or {}).get("requestId")


def _parse_body(spec: RouteSpec, request):
    if spec.body is None:
        return None
    raw = request.raw_body or b""
    if not raw.strip():
        if spec.body_required:
            raise AppError("VALIDATION_ERROR", "A JSON body is required",
                           details=[{"path": "", "message": "body is required"}])
        data = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise AppError("VALIDATION_ERROR", "Body is not valid JSON",
                           details=[{"path": "", "message": "body is not valid JSON"}])
    validate(spec.body, data)
    return data


def _parse_query(spec: RouteSpec, request) -> dict:
    raw = dict(request.query_params or {})
    if not spec.query:
        return {}
    out, problems = {}, []
    for name, schema in spec.query.items():
        if name not in raw:
            if "default" in schema:
                out[name] = schema["default"]
            continue
        try:
            out[name] = _coerce(raw[name], schema.get("type", "string"))
        except ValueError:
            problems.append({"path": name, "message": f"{name} must be {schema.get('type')}"})
    if problems:
        raise AppError("VALIDATION_ERROR", problems[0]["message"], details=problems)
    validate({"type": "object", "properties": spec.query}, out)
    return out


def _coerce(text: str, kind: str):
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise ValueError(text)
    return text


def validate(schema: dict, data) -> None:
    """Every problem at once, as {path, message}; 400 VALIDATION_ERROR."""
    from chalicelib.domain import json_schema
    problems = json_schema.problems(schema, data)
    if problems:
        first = problems[0]
        message = f"{first['path']}: {first['message']}" if first["path"] else first["message"]
        raise AppError("VALIDATION_ERROR", message, details=problems)
