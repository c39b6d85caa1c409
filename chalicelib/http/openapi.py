"""The OpenAPI 3.1 document, generated from the route declarations."""
from __future__ import annotations

from chalicelib.core import settings
from chalicelib.core.errors import KINDS
from chalicelib.http.declarations import ANY_ADMIN, ROUTES, RouteSpec
from chalicelib.http.requests import path_schema

_SECURITY = {"admin": "adminToken", "node": "nodeSecret", "api_key": "apiKey"}
_ERROR = {
    "type": "object", "required": ["error", "message", "code"],
    "properties": {"error": {"type": "string", "enum": sorted(KINDS)},
                   "message": {"type": "string"}, "code": {"type": "integer"},
                   "details": {}, "error_id": {"type": "string"}},
}
_DATA_ERROR = {
    "type": "object", "required": ["ok", "error"],
    "properties": {"ok": {"const": False}, "error": {"type": "string"},
                   "code": {"type": "string"}, "details": {}, "error_id": {"type": "string"}},
}


def _error_responses(spec: RouteSpec) -> dict:
    """One response per status the route can answer an error with, naming the codes."""
    by_status: dict[int, list[str]] = {}
    for name in sorted(spec.answers()):
        by_status.setdefault(KINDS[name].status, []).append(name)
    field = "code" if spec.surface == "data" else "error"
    base = "DataError" if spec.surface == "data" else "Error"
    out = {}
    for status, names in sorted(by_status.items()):
        schema = {"allOf": [{"$ref": f"#/components/schemas/{base}"},
                            {"properties": {field: {"enum": names}}}]}
        out[str(status)] = {"description": ", ".join(names),
                            "content": {"application/json": {"schema": schema}}}
    return out


def _success_responses(spec: RouteSpec) -> dict:
    """The declared answer under every media type the route can answer in (JSON carries
    the schema; text exports are strings)."""
    content = {}
    for media_type in spec.media_types:
        if media_type == "application/json":
            content[media_type] = {"schema": spec.response or {}}
        else:
            content[media_type] = {"schema": {"type": "string"}}
    out = {str(spec.status): {"description": "Success", "content": content}}
    for status in spec.statuses:
        out[str(status)] = {"description": "Success", "content": content}
    return out


def _operation(spec: RouteSpec) -> dict:
    op = {"operationId": spec.name, "summary": spec.summary, "tags": list(spec.tags),
          "responses": {**_success_responses(spec), **_error_responses(spec)}}
    own = spec.path_schemas or {}
    params = [{"name": p, "in": "path", "required": True, "schema": own.get(p) or path_schema(p)}
              for p in spec.path_params]
    params += [{"name": name, "in": "query", "required": name in spec.required_query,
                "schema": schema} for name, schema in (spec.query or {}).items()]
    if params:
        op["parameters"] = params
    if spec.body is not None:
        content = {"application/json": {"schema": spec.body}}
        if spec.accepts_json_lines:
            content["application/x-ndjson"] = {"schema": {
                "type": "string", "pattern": r"\S",
                "description": "JSON Lines: one event (an export line) per line"}}
        op["requestBody"] = {"required": spec.body_required, "content": content}
    if spec.auth == "public":
        op["security"] = []
    else:
        op["security"] = [{_SECURITY[spec.auth]: []}]
    if spec.permission:
        op["x-permission"] = spec.permission if spec.permission != ANY_ADMIN else "any admin"
    if spec.audit:
        op["x-audit-action"] = spec.audit
    if spec.scope:
        op["x-key-scope"] = spec.scope
    return op


def document() -> dict:
    paths: dict = {}
    for spec in ROUTES:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Admin control plane", "version": settings.get().version,
                 "description": "Platform admin API (instances, specs, keys, ops) and server "
                                "administration API (auth, config, metrics, audit, health)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR, "DataError": _DATA_ERROR},
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "nodeSecret": {"type": "apiKey", "in": "header", "name": "X-Node-Secret"},
                "apiKey": {"type": "http", "scheme": "bearer",
                           "description": "An API key, j17_0_<env>_<random>"},
            },
        },
    }
