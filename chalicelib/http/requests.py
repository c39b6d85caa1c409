"""Reading a request as its route declares it: the JSON body and the query parameters,
validated against their schemas, every problem reported at once."""
from __future__ import annotations

import json

from chalicelib.core.errors import AppError, invalid
from chalicelib.http.declarations import RouteSpec


def body(spec: RouteSpec, request):
    if spec.body is None:
        return None
    raw = request.raw_body or b""
    if not raw.strip():
        if spec.body_required:
            raise invalid("", "body is required", "A JSON body is required")
        data = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise invalid("", "body is not valid JSON", "Body is not valid JSON")
    validate(spec.body, data)
    return data


def query(spec: RouteSpec, request) -> dict:
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


def header(request, name: str) -> str | None:
    return (request.headers or {}).get(name)


def source_ip(request) -> str | None:
    identity = (request.context or {}).get("identity") or {}
    return identity.get("sourceIp")


def request_id(request) -> str | None:
    return (request.context or {}).get("requestId")
