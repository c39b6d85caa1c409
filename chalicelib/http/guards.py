"""Authentication and permission checks, applied from a route's declaration."""
from __future__ import annotations

from chalicelib.core.errors import AppError
from chalicelib.http.declarations import ANY_ADMIN


def bearer(request) -> str | None:
    header = (request.headers or {}).get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(spec, request, params: dict):
    """The principal of the call, or an AppError (401 / 403)."""
    if spec.auth == "public":
        return None
    if spec.auth == "node":
        from chalicelib.identity import node_auth
        return node_auth.authenticate((request.headers or {}).get("x-node-secret"))
    if spec.auth == "api_key":
        from chalicelib.domain.api_keys import scope_allows
        from chalicelib.identity import api_keys
        key = api_keys.verify(bearer(request))
        if spec.scope and not scope_allows(key.scope, spec.scope):
            raise AppError("INSUFFICIENT_PERMISSIONS",
                           f"API key scope '{key.scope}' does not allow '{spec.scope}'")
        return key
    from chalicelib.identity import tokens
    token = bearer(request)
    if token is None:
        raise AppError("UNAUTHENTICATED")
    principal = tokens.authenticate(token)
    if spec.permission != ANY_ADMIN and not principal.may(spec.permission):
        raise AppError("INSUFFICIENT_PERMISSIONS",
                       f"Admin does not have '{spec.permission}' permission")
    return principal


def rate_limit(spec, principal, origin) -> tuple[dict, object]:
    """Per-admin hourly limits (seed 004), declared on the routes they govern; and the
    data plane's per-instance and per-IP limits on every /data route. The headers the
    answer carries, and a count the handler's own write is to make (data_limits.Deferred:
    a /data write is an append)."""
    if spec.auth == "api_key" and spec.surface == "data" and principal is not None:
        from chalicelib.identity import data_limits
        return data_limits.consume(principal.instance_id, origin.ip_address, spec.mutating)
    if spec.rate_limit is None or principal is None:
        return {}, None
    from chalicelib.identity import admin_limits as rate_limits
    rate_limits.consume(spec.rate_limit, principal.subject)
    return {}, None
