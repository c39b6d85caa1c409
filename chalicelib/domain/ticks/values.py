"""Values of the tick dialect at run time: ``TickError``, the JSON helpers (kinds,
copies, JSON equality), reading paths from the roots in scope (data, metadata, state,
item and ``let`` bindings), resolving templates and ``{"literal": x}``, and evaluating
predicates; ``resolve`` and ``evaluate_predicate`` are the public entry points."""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.domain import jsonpath
from chalicelib.domain.jsonpath import MISSING, PathError

PREDICATES = ("equals", "not_equals", "gt", "gte", "lt", "lte", "in", "not_in", "exists",
              "and", "or", "not")
ROOTS = ("data", "metadata", "state", "item", "key", "id", "type")  # never let names

LET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ABSENT = object()


class TickError(Exception):
    """A handler cannot be applied to this event; ``path`` is the operation's path."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path
        self.event_index: int | None = None  # set by fold

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def is_bare_conditional(op: Any) -> bool:
    """`{"if": p, "then": [...], "else"?: [...]}` written as an operation of its own, as the
    platform's JSONPath page shows it: the `conditional` operation without its name."""
    return (isinstance(op, dict) and "if" in op and "then" in op
            and set(op) <= {"if", "then", "else"})


class Skip(Exception):
    """An optional value (a path ending in ``?``) is missing: its operation does nothing."""


# --- JSON helpers ------------------------------------------------------------------------

def kind_of(v: Any) -> str:
    if v is MISSING:
        return "missing"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return f"a {type(v).__name__}"


def show_value(v: Any) -> str:
    """repr for messages, shortened; never raises (huge ints have no repr in 3.11+)."""
    try:
        text = repr(v)
    except Exception:  # noqa: BLE001 - a message must not fail
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def deep_copy(v: Any) -> Any:
    """Deep copy of JSON data (tuples become lists); scalars are shared."""
    if isinstance(v, dict):
        return {k: deep_copy(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [deep_copy(x) for x in v]
    return v


def tick_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but true != 1; containers compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_num(a) and is_num(b):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(tick_equal(x, b[k]) for k, x in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(tick_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def restore(names: dict, name: str, saved: Any) -> None:
    if saved is ABSENT:
        names.pop(name, None)
    else:
        names[name] = saved


# --- values and predicates at run time -------------------------------------------------
# `names` maps every root a path may read (data, metadata, state, item, let names) to its
# value; operations change the state (and, in map.apply, the item) through it.

def unknown_root(root: str) -> str:
    if root == "item":
        return "$.item (the array element) exists only inside where and map.apply"
    return (f"$.{root} is not $.data, $.metadata, $.key, $.type, @ (the state) or a let "
            "binding in scope (nor $.id, the aggregate id)")


def reference(value: Any) -> tuple[str, bool] | None:
    """(path, optional) of a value that reads a path: a path string or {"$": path}."""
    if isinstance(value, dict) and len(value) == 1 and "$" in value:
        return jsonpath.reference(value["$"])
    return jsonpath.reference(value)


def _read(text: str, names: dict, p: str) -> Any:
    try:
        root, segs = jsonpath.parse(text)
    except PathError as exc:
        raise TickError(str(exc), p) from None
    base = names.get(root, ABSENT)
    if base is ABSENT:
        raise TickError(unknown_root(root), p)
    return jsonpath.get(base, segs)


def _resolve(value: Any, names: dict, p: str) -> Any:
    """The value of a handler value; MISSING for a path that is absent. Not a copy."""
    if isinstance(value, str):
        ref = jsonpath.reference(value)
        return _read(ref[0], names, p) if ref else value
    if isinstance(value, dict):
        if len(value) == 1:
            (name, arg), = value.items()
            if name == "literal":
                return arg
            if name == "$":
                ref = jsonpath.reference(arg)
                if ref is None:
                    raise TickError('{"$": ...} takes a path, like "$.data.id" or "@.count"', p)
                return _read(ref[0], names, p)
            if name == "$merge":
                return _merge(arg, names, p)
        out = {}
        for k, x in value.items():
            x = _resolve(x, names, p)
            if x is not MISSING:
                out[k] = x
        return out
    if isinstance(value, (list, tuple)):
        return [None if x is MISSING else x for x in (_resolve(x, names, p) for x in value)]
    return value


def _merge(items: Any, names: dict, p: str) -> dict:
    """{"$merge": [a, b, ...]}: the objects shallow-merged left to right (absent skipped)."""
    if not isinstance(items, list):
        raise TickError("$merge takes an array of objects (or references to them)", p)
    out: dict = {}
    for i, item in enumerate(items):
        v = _resolve(item, names, p)
        if v is MISSING or v is None:
            continue
        if not isinstance(v, dict):
            raise TickError(f"$merge[{i}] is {kind_of(v)}, not an object", p)
        out.update(v)
    return out


def value_of(value: Any, names: dict, p: str) -> Any:
    """The value of an argument; None for an absent path, and Skip (the operation does
    nothing) for an absent optional one."""
    v = _resolve(value, names, p)
    if v is MISSING:
        ref = reference(value)
        if ref is not None and ref[1]:
            raise Skip
        return None
    return v


def where_holds(where: Any, names: dict, p: str) -> bool:
    """A `where`: a predicate ({"equals": [...]}, ...) or, as the platform writes it, an
    object whose every field must equal the element's field ({"id": "$.data.id"})."""
    if isinstance(where, dict) and where and not (len(where) == 1 and next(iter(where))
                                                 in PREDICATES):
        item = names.get("item", MISSING)
        for field, want in where.items():
            try:
                segs = jsonpath.parse_relative(field)
            except PathError as exc:
                raise TickError(str(exc), p) from None
            have = jsonpath.get(item, segs)
            if not tick_equal(None if have is MISSING else have, value_of(want, names, p)):
                return False
        return True
    return predicate_holds(where, names, p)


def predicate_holds(pred: Any, names: dict, p: str) -> bool:
    if not isinstance(pred, dict) or len(pred) != 1:
        raise TickError("a predicate must be an object with exactly one key, its name", p)
    (name, arg), = pred.items()
    run = _PREDICATE_RUNNERS.get(name)
    if run is None:
        raise TickError(f"unknown predicate {show_value(name)}", p)
    return run(arg, names, f"{p}.{name}")


def _pair(arg: Any, names: dict, p: str) -> tuple[Any, Any]:
    if not isinstance(arg, list) or len(arg) != 2:
        raise TickError("takes an array of two values, [left, right]", p)
    return value_of(arg[0], names, p), value_of(arg[1], names, p)


def _order(compare):
    def run(arg, names, p):
        a, b = _pair(arg, names, p)
        if is_num(a) and is_num(b) or isinstance(a, str) and isinstance(b, str):
            return compare(a, b)
        return False
    return run


def _in(arg, names, p) -> bool:
    a, container = _pair(arg, names, p)
    return isinstance(container, list) and any(tick_equal(a, x) for x in container)


def _exists(arg, names, p) -> bool:
    ref = reference(arg)
    if ref is None:
        raise TickError("takes a path, like @.owner or $.data.owner", p)
    v = _read(ref[0], names, p)
    return v is not MISSING and v is not None


def _predicates(arg, names, p) -> list:
    if not isinstance(arg, list) or not arg:
        raise TickError("takes a non-empty array of predicates", p)
    return arg


def _and(arg, names, p) -> bool:
    return all(predicate_holds(x, names, f"{p}[{i}]") for i, x in enumerate(_predicates(arg, names, p)))


def _or(arg, names, p) -> bool:
    return any(predicate_holds(x, names, f"{p}[{i}]") for i, x in enumerate(_predicates(arg, names, p)))


_PREDICATE_RUNNERS = {
    "equals": lambda arg, names, p: tick_equal(*_pair(arg, names, p)),
    "not_equals": lambda arg, names, p: not tick_equal(*_pair(arg, names, p)),
    "gt": _order(operator.gt),
    "gte": _order(operator.ge),
    "lt": _order(operator.lt),
    "lte": _order(operator.le),
    "in": _in,
    "not_in": lambda arg, names, p: not _in(arg, names, p),
    "exists": _exists,
    "and": _and,
    "or": _or,
    "not": lambda arg, names, p: not predicate_holds(arg, names, p),
}
assert tuple(_PREDICATE_RUNNERS) == PREDICATES


# --- resolving values and predicates for callers ----------------------------------------

def _names(scope: Mapping | None) -> dict:
    names = {"data": MISSING, "metadata": MISSING, "state": MISSING}
    if scope is not None:
        if not isinstance(scope, Mapping):
            raise TickError(f"the scope must be a mapping of names to values, not {kind_of(scope)}")
        names.update(scope)
    return names


def resolve(value: Any, scope: Mapping | None = None) -> Any:
    """The value of a handler value in `scope` ({"data", "metadata", "state", "item"?,
    let names}; absent roots read as missing). A copy: changing it changes no input.
    A path that is absent gives None (and is left out of template objects)."""
    try:
        return deep_copy(value_of(value, _names(scope), ""))
    except RecursionError:
        raise TickError("the value is nested too deeply") from None


def evaluate_predicate(pred: Any, scope: Mapping | None = None) -> bool:
    """Whether a predicate holds in `scope` (see resolve)."""
    try:
        return predicate_holds(pred, _names(scope), "")
    except RecursionError:
        raise TickError("the predicate is nested too deeply") from None
