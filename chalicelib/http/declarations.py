"""What a route declares, once, next to its handler: who may call it, what it takes, what
it answers and what it audits. The wrapper enforces it; the OpenAPI document and the
generated route-table tests are read from the same list."""
from __future__ import annotations

import re
from dataclasses import dataclass

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
ANY_ADMIN = "any"  # any logged-in admin, whatever their permissions
AUTH_KINDS = ("admin", "node", "api_key", "public")


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    summary: str
    auth: str                      # one of AUTH_KINDS
    permission: str | None = None  # admin routes: the permission needed
    scope: str | None = None       # api_key routes: the key scope needed
    body: dict | None = None       # JSON Schema of the body
    query: dict | None = None      # name -> JSON Schema of a query parameter
    response: dict | None = None   # JSON Schema of the success answer (JSON routes)
    audit: str | None = None       # the audit action a successful call records
    status: int = 200
    surface: str = "admin"         # error shape: "admin" (seed 004) or "data" (platform)
    tags: tuple = ()
    body_required: bool = True
    rate_limit: str | None = None
    read_only: bool = False        # a POST that changes nothing (e.g. verifying a proof)
    media_types: tuple = ("application/json",)  # of the success answer, JSON's first
    statuses: tuple = ()           # other success statuses the route may answer (201/200)
    errors: tuple = ()             # error kinds its own acts may answer (see `answers`)
    required_query: tuple = ()     # query parameters the handler insists on
    path_schemas: dict | None = None  # name -> JSON Schema of a path parameter it checks
    # True: `body` is checked before the handler runs. False: the handler checks it (and
    # names its own error kind). A schema: that laxer one is checked first, and the handler
    # checks the rest, so that every problem of a body is listed at once.
    validate_body: bool | dict = True
    # the body may also come as JSON Lines (application/x-ndjson): the handler reads the
    # raw body then, and the document lists both media types
    accepts_json_lines: bool = False

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING and not self.read_only

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def pattern(self) -> re.Pattern:
        """Matches a concrete request path of this route."""
        parts = re.split(r"{(\w+)}", self.path)  # literal, name, literal, ...
        return re.compile("^" + "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part)
                                        for i, part in enumerate(parts)) + "$")


    def answers(self) -> set[str]:
        """Every error kind the route may answer: those its acts declare, and those the
        wrapper adds from the rest of the declaration (auth, input, limits, crashes)."""
        kinds = set(self.errors) | {"INTERNAL_ERROR", "SERVICE_UNAVAILABLE"}
        if self.body is not None or self.query or self.path_params:
            kinds.add("VALIDATION_ERROR")
        kinds |= IMPLIED_BY_AUTH[self.auth]
        if self.rate_limit or (self.auth == "api_key" and self.surface == "data"):
            kinds.add("RATE_LIMITED")
        if "instance_id" in self.path_params:
            kinds.add("INSTANCE_NOT_FOUND")
        return kinds


# what the wrapper itself answers for each kind of caller
IMPLIED_BY_AUTH = {
    "admin": {"UNAUTHENTICATED", "TOKEN_EXPIRED", "SESSION_REVOKED", "INSUFFICIENT_PERMISSIONS"},
    "api_key": {"INVALID_API_KEY", "INSUFFICIENT_PERMISSIONS"},
    "node": {"INVALID_NODE_SECRET"},
    "public": set(),
}

ROUTES: list[RouteSpec] = []


def check(spec: RouteSpec) -> None:
    """Declarations that cannot be right are refused when the module loads."""
    where = f"{spec.method} {spec.path}"
    if spec.auth not in AUTH_KINDS:
        raise ValueError(f"{where}: unknown auth {spec.auth!r}")
    if spec.auth == "admin" and not spec.permission:
        raise ValueError(f"{where}: admin routes must name a permission")
    if spec.auth == "admin" and spec.mutating and not spec.audit:
        raise ValueError(f"{where}: mutating admin routes must name an audit action")
    from chalicelib.core.errors import KINDS
    if set(spec.errors) - set(KINDS):
        raise ValueError(f"{where}: unknown error kinds {sorted(set(spec.errors) - set(KINDS))}")
    if "application/json" in spec.media_types and spec.response is None:
        raise ValueError(f"{where}: JSON routes must declare their answer's schema (response)")
