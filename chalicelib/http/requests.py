"""Reading a request as its route declares it: the JSON body and the query parameters,
validated against their schemas, every problem reported at once.

Before a body reaches a schema (or DynamoDB) it is refused with 400 VALIDATION_ERROR when
it is not plain JSON data: nested deeper than MAX_DEPTH arrays/objects (counted on the
raw text, before the parser could recurse), carrying NaN, Infinity or a number out of
float range such as 1e400, or holding a string that is not valid Unicode (a lone
surrogate, from a "\\ud800" escape or from raw bytes). Query and path parameters are held
to the same rules: no lone surrogates, and a number is finite."""
from __future__ import annotations

import json
import math
import re

from chalicelib.core.errors import AppError, invalid
from chalicelib.domain.devices import ADDRESS_PATTERN
from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.http.declarations import RouteSpec

MAX_DEPTH = 64  # arrays/objects inside one another; no route's body comes near it

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


# The data plane's names, wherever a route takes them (/data, and the audit routes of the
# internal and ops surfaces): they are parts of DynamoDB keys such as
# "<instance>#<env>#<agg_type>#<agg_id>" (a partition key holds 2048 bytes, and the
# stream is also a sort key of an index, 1024 bytes), and '#' would make two different
# (type, id) pairs one key. Spec names (^[a-z][a-z0-9_]{0,63}$) all fit the type rule.
TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
ID_PATTERN = r"^[A-Za-z0-9_.:@~+=-]{1,256}$"
_TYPE_RULE = (re.compile(TYPE_PATTERN), "1 to 128 of A-Z a-z 0-9 _ . : -")
PATH_PARAMETERS = {
    "agg_type": _TYPE_RULE,
    "event_type": _TYPE_RULE,
    "agg_id": (re.compile(ID_PATTERN), "1 to 256 of A-Z a-z 0-9 _ . : - @ ~ + ="),
}
MAX_PATH_PARAMETER = 1024   # any other path parameter (ids, names) becomes a key too
# What the document says of the path parameters the handlers check themselves.
_CHECKED_ELSEWHERE = {
    "env": {"type": "string", "enum": list(ENVIRONMENTS)},         # http/surfaces.py
    "index": {"type": "string", "pattern": r"^[0-9]{1,12}$"},       # integrity/api.py
    "device_address": {"type": "string", "pattern": ADDRESS_PATTERN},
}


def path_schema(name: str) -> dict:
    """The JSON Schema of path parameter `name`, as the document publishes it."""
    if name == "agg_id":
        from chalicelib.domain import identifiers
        return {"type": "string", "pattern": identifiers.PATTERN,
                "description": "an identifier: " + identifiers.FORMS}
    if name in PATH_PARAMETERS:
        return {"type": "string", "pattern": PATH_PARAMETERS[name][0].pattern}
    return _CHECKED_ELSEWHERE.get(name, {"type": "string", "minLength": 1,
                                         "maxLength": MAX_PATH_PARAMETER})


class _NonFinite:
    """Where the parser met NaN, Infinity or an out-of-range number: kept in place so
    the refusal can name its path, and never let past parse_json."""
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def body(spec: RouteSpec, request):
    if spec.body is None:
        return None
    raw = request.raw_body or b""
    if spec.accepts_json_lines and media_type(request) == "application/x-ndjson":
        return None        # the handler reads the lines from the raw body
    if not raw.strip():
        if spec.body_required:
            raise invalid("", "body is required", "A JSON body is required")
        data = {}
    else:
        data = parse_json(raw)
    if spec.validate_body:
        validate(spec.body if spec.validate_body is True else spec.validate_body, data)
    return data


def media_type(request) -> str:
    return ((request.headers or {}).get("content-type") or "").split(";")[0].strip().lower()


def parse_json(raw: bytes | str):
    """The JSON value of `raw`, or 400 VALIDATION_ERROR: not JSON, nested deeper than
    MAX_DEPTH, a non-finite number, or a string that is not valid Unicode."""
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw)
        try:   # as json.loads does: UTF-8/16/32 by the first bytes
            encoding = json.detect_encoding(raw)
            text = raw.decode(encoding, "surrogatepass")
        except UnicodeDecodeError:
            raise invalid("", "body is not valid JSON", "Body is not valid JSON")
        utf8 = raw if encoding.startswith("utf-8") else None
    else:
        text, utf8 = raw, None
    if too_deep(utf8 if utf8 is not None else text):
        raise invalid("", f"nested deeper than {MAX_DEPTH} arrays or objects",
                      f"Body is nested deeper than {MAX_DEPTH} levels")
    seen = []

    def non_finite(literal: str) -> _NonFinite:   # NaN, Infinity, -Infinity
        seen.append(literal)
        return _NonFinite(literal)

    def number(literal: str):                      # 1e400 is a float too: inf
        value = float(literal)
        return value if math.isfinite(value) else non_finite(literal)

    try:
        data = json.loads(text, parse_constant=non_finite, parse_float=number)
    except (ValueError, RecursionError):
        raise invalid("", "body is not valid JSON", "Body is not valid JSON")
    if seen or _SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text):
        found = first_invalid(data)
        if found is None and seen:
            found = ("", f"{seen[0]} is not a finite number")
        if found is not None:
            path, message = found
            raise invalid(path, message, f"{path or 'body'}: {message}")
    return data


def _brackets(text: str | bytes) -> bytes:
    """The structural brackets of JSON `text` as b"(" and b")": escapes and strings are
    removed first, so brackets inside strings do not count. Outside strings a backslash
    or a stray quote is already an error, where any parser stops."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    if b'"' in raw:
        raw = b"".join(raw.split(b'"')[::2])      # the even pieces lie outside strings
    return raw.translate(None, _NOT_BRACKETS).translate(_AS_PARENS)


def nesting_depth(text: str | bytes) -> int:
    """How many arrays/objects the JSON `text` nests inside one another, counted without
    parsing (the running balance of its structural brackets). For text that is not JSON
    it still bounds how deep a parser gets before it fails."""
    from itertools import accumulate
    return max(accumulate(1 if b == 40 else -1 for b in _brackets(text)), default=0)


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """nesting_depth(text) > limit. Each pass drops the innermost pairs, so balanced
    brackets of depth d are gone after d passes, at C speed; anything else (unbalanced,
    or deeper) is counted exactly."""
    brackets = _brackets(text)
    if brackets.count(b"(") <= limit:
        return False
    for _ in range(limit):
        shorter = brackets.replace(b"()", b"")
        if not shorter:
            return False
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    return nesting_depth(text) > limit


def first_invalid(value, path: str = "") -> tuple[str, str] | None:
    """(path "a.b.0", message) of the first value that is not plain JSON data: a key
    or string that is not valid Unicode, or a non-finite number; None when all are."""
    if isinstance(value, str):
        return (path, _NOT_UNICODE) if _SURROGATE.search(value) else None
    if isinstance(value, _NonFinite):
        return path, f"{value.text} is not a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            shown = key.encode("utf-8", "backslashreplace").decode()  # never echo a surrogate
            here = f"{path}.{shown}" if path else shown
            if _SURROGATE.search(key):
                return here, f"key {_NOT_UNICODE}"
            found = first_invalid(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = first_invalid(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


_NOT_UNICODE = "is not valid Unicode (a lone surrogate)"


def query(spec: RouteSpec, request) -> dict:
    """The query parameters as declared (coerced to their types, defaults filled in),
    once the URL's parameters, path ones included, have passed _check_parameters."""
    _check_parameters(request)
    raw = dict(request.query_params or {})
    if not spec.query:
        return {}
    out, problems = {}, []
    if spec.surface != "data":
        # an admin listing's filters are its declared parameters: a misspelt one is
        # refused, not ignored, so no one reads an unfiltered page as filtered (the data
        # plane, like the platform's, ignores what it does not know)
        known = ", ".join(sorted(spec.query))
        problems += [{"path": name, "message": f"{name} is not a parameter of this route "
                                               f"(known: {known})"}
                     for name in sorted(raw) if name not in spec.query]
    for name, schema in spec.query.items():
        if name not in raw:
            if "default" in schema:
                out[name] = schema["default"]
            continue
        try:
            out[name] = _coerce(raw[name], schema.get("type", "string"))
        except ValueError:
            problems.append({"path": name, "message": f"{name} must be {_kind(schema)}"})
    if problems:
        raise AppError("VALIDATION_ERROR", problems[0]["message"], details=problems)
    validate({"type": "object", "properties": spec.query}, out)
    return out


def _kind(schema: dict) -> str:
    kind = schema.get("type")
    return "a finite number" if kind == "number" else str(kind)


def _check_parameters(request) -> None:
    """Path and query parameters are text: a lone surrogate (which a client cannot send
    as UTF-8, but an event may carry as an escape) is refused before any key is built,
    and the path parameters named in PATH_PARAMETERS must follow their rule."""
    for name, value in (request.uri_params or {}).items():
        value = value or ""
        if _SURROGATE.search(value):
            raise invalid(name, "is not valid Unicode (a lone surrogate)",
                          "A path parameter is not valid Unicode (a lone surrogate)")
        rule = PATH_PARAMETERS.get(name)
        if rule is not None and not rule[0].fullmatch(value):
            raise invalid(name, f"must be {rule[1]}", f"{name} must be {rule[1]}")
        if len(value) > MAX_PATH_PARAMETER:
            raise invalid(name, f"longer than {MAX_PATH_PARAMETER} characters",
                          f"{name} is longer than {MAX_PATH_PARAMETER} characters")
    params = request.query_params
    for name in (params or {}):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if _SURROGATE.search(name) or any(_SURROGATE.search(v or "") for v in values):
            raise invalid(name if not _SURROGATE.search(name) else "",
                          "is not valid Unicode (a lone surrogate)",
                          "A query parameter is not valid Unicode (a lone surrogate)")


def _coerce(text: str, kind: str):
    if kind == "integer":
        return int(text)
    if kind == "number":
        value = float(text)
        if not math.isfinite(value):   # nan, inf, 1e400: no comparison holds for them
            raise ValueError(text)
        return value
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


IDEMPOTENCY_KEY_LENGTH = 128


def idempotency_key(request) -> str | None:
    """X-Idempotency-Key (1 to 128 characters), which makes a retried write answer its first
    answer; None when the request carries none."""
    key = header(request, "x-idempotency-key")
    if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_LENGTH):
        raise invalid("X-Idempotency-Key", "1 to 128 characters",
                      "X-Idempotency-Key must be 1 to 128 characters")
    return key
