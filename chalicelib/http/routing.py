"""Declaring a route: `@route(bp, path, method, ...)` records its declaration and serves
the handler inside the wrapper, which enforces everything the declaration says."""
from __future__ import annotations

import functools
from typing import Callable

from chalicelib.http import wrapper
from chalicelib.http.declarations import ANY_ADMIN, ROUTES, RouteSpec, check

__all__ = ["ANY_ADMIN", "route"]

# Chalice refuses other content types with its own error shape before our code runs;
# listing the common ones lets our handler answer in the documented shape instead.
CONTENT_TYPES = ["application/json", "text/plain", "application/x-ndjson",
                 "application/octet-stream", "application/x-www-form-urlencoded"]


def route(bp, path: str, method: str, *, summary: str, auth: str = "admin",
          name: str | None = None, **declared):
    """Serve the decorated handler at `method path` on blueprint `bp`. `declared` holds
    the rest of the RouteSpec: permission, scope, body, query, response, audit, status..."""
    def decorate(fn: Callable):
        spec = RouteSpec(path=path, method=method, name=name or fn.__name__, summary=summary,
                         auth=auth, **declared)
        check(spec)
        ROUTES.append(spec)

        @functools.wraps(fn)
        def view(**params):
            return wrapper.dispatch(spec, fn, bp.current_request, params)
        view.__name__ = spec.name  # one handler may serve several surfaces

        bp.route(path, methods=[method], content_types=CONTENT_TYPES)(view)
        return fn

    return decorate
