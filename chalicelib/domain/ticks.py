"""Tick handlers: the pure interpreter of an event type's ``handler``, and its validator.

A handler is a list of operations applied in order to the aggregate's state (a JSON
object, ``{}`` before the first event) when an event is appended. Pure and standard
library only: no I/O, no clock, no randomness, so folding the same events always gives
the same state. Paths use the dialect of ``jsonpath`` (``.name``, ``[0]``, ``['any']``).

Values
------
Wherever an argument below says *value*:

- a string starting with ``$.`` (or ``$[``) is a path, read from ``$.data`` (the event's
  data), ``$.metadata``, ``$.state`` (the state as the earlier operations left it),
  ``$.item`` (the array element, only inside ``where`` and ``map.apply``) or ``$.<name>``
  (a ``let`` binding). Reading a path that does not exist gives ``null``;
- ``{"literal": X}`` is X verbatim, never looked into: the way to write a string that
  starts with ``$.`` (``{"literal": "$.5"}``) or an object that would otherwise be
  read as a template;
- any other object or array is a template: each member is itself a value, so
  ``{"id": "$.data.id", "tags": []}`` builds an object. A member whose path does not
  exist is left out of a template object (so ``merge`` with a template only touches
  the fields the event carries); in a template array it becomes ``null``;
- anything else (string, number, boolean, null) is itself.

Targets
-------
``target`` is a path under ``$.state`` (under ``$.item`` inside ``map.apply``). Writing
creates missing (or null) objects on the way: ``$.state.a.b`` makes ``a`` when absent.
It never creates arrays at an index: ``[n]`` must address an existing element. The
state itself (a bare ``$.state``) may be the target of set, merge, set_at, merge_at,
remove_at and increment_at only, and must stay an object; ``$.item`` itself (in
``map.apply``) may be the target of any operation but ``remove`` without ``where``.

Operations (one key per operation object; ``?`` marks optional arguments)
-------------------------------------------------------------------------
======================  ===============================================================
operation               arguments
======================  ===============================================================
set                     target, value                  target = value
merge                   target, value (object)         shallow merge into the target
                                                       object (created if missing)
append                  target, value                  push onto the array (created)
remove                  target, where?                 without where: delete the key or
                                                       the element ``[n]`` (absent: no-op);
                                                       with where: drop matching elements
increment / decrement   target, by? (number, 1)        target +/- by; missing counts as 0
filter                  target, where                  keep the matching elements
map                     target, apply ([ops])          run ``apply`` on every element; in
                                                       there targets are under ``$.item``
                                                       (the element, replaceable whole);
                                                       ``$.state`` reads the state before
                                                       the map
update_where            target, where, set?, merge?    in every matching element (must be
                                                       objects): shallow-merge ``merge``
                                                       (object value), then write each
                                                       ``set`` entry: {field path: value};
                                                       values see the element as $.item
upsert                  target, match (field path),    the first element whose ``match``
                        value (object), mode?          field equals value's is merged
                        ("merge" | "replace")          (or replaced); none: append
append_unique           target, value, match?          append unless an equal element (or,
                        (field path)                   with match, one with an equal match
                                                       field) is already there
set_at                  target, key | index, value     entry ``key`` of the object (created)
                                                       or element ``index`` of the array
merge_at                target, key | index,           shallow merge into that entry
                        value (object)                 (created as {} when missing)
remove_at               target, key | index            delete the entry/element (absent: no-op)
increment_at            target, key | index, by?       add ``by`` (default 1) to the entry
                                                       (missing counts as 0)
conditional             if (predicate), then ([ops]),  run then or else
                        else? ([ops])
let                     name, value, in ([ops])        bind ``$.<name>`` to value (a copy
                                                       taken once) while running ``in``
======================  ===============================================================

``where`` and ``if`` are predicates; in ``where`` the element is ``$.item``, always the
innermost element when array operations nest. ``match`` and the keys of
``update_where.set`` are *field paths* relative to an element: ``id``, ``owner.id``,
``lines[0]``. ``key`` is a value that must be a string (an integer is turned into its
decimal string); ``index`` a value that must be a non-negative integer, within range
for set_at, merge_at and increment_at. ``by`` is a value that must be a number. ``name``
of ``let`` is an identifier (``[A-Za-z_][A-Za-z0-9_]*``), not data, metadata, state or
item; an inner let may shadow an outer one.

Predicates (one key per predicate object)
-----------------------------------------
``{"equals": [a, b]}``, ``not_equals``, ``gt``, ``gte``, ``lt``, ``lte`` take two values;
``{"in": [v, array]}`` and ``not_in`` a value and an array value; ``{"exists": path}``
(true when the path is present and not null); ``{"and": [p, ...]}`` and ``{"or": [...]}``
at least one predicate; ``{"not": p}``. Equality is JSON equality (``1 == 1.0``, but
``true != 1``; objects and arrays compared deeply; a missing path equals null). The
order comparisons hold only between two numbers or two strings (code point order) and
are false otherwise (a literal of another type there is a validation error); ``in`` is false (``not_in`` true) when the second value is not an
array.

Errors
------
``validate_handler`` lists every static problem as ``{"path", "message"}``, the path
relative to the handler (``[2].set.target``, ``[0].conditional.if.and[1].equals[0]``).
At apply time, problems only the data can show (incrementing a string, appending to an
object, an index out of range, a key that is not a string) raise ``TickError`` with the
operation's path (``[1].increment``); the event is then not applied at all.

API
---
``apply_handler(state, handler, data, metadata) -> dict`` (a new state; inputs are never
changed or shared with the result), ``fold(events, initial=None)`` over (handler, data,
metadata) triples (a TickError carries ``event_index``), ``resolve(value, scope)`` and
``evaluate_predicate(pred, scope)`` with ``scope = {"data", "metadata", "state", ...}``
(absent roots read as missing), ``validate_handler(handler)``, ``validate_predicate`` and
``validate_value``. State and event data are decoded JSON (dict, list, str, int, float,
bool, None): a number of another type (say ``Decimal``) is not a number here.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from chalicelib.domain import jsonpath
from chalicelib.domain.jsonpath import MISSING, PathError

# operation -> (required arguments, optional arguments)
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "set": (("target", "value"), ()),
    "merge": (("target", "value"), ()),
    "append": (("target", "value"), ()),
    "remove": (("target",), ("where",)),
    "increment": (("target",), ("by",)),
    "decrement": (("target",), ("by",)),
    "filter": (("target", "where"), ()),
    "map": (("target", "apply"), ()),
    "update_where": (("target", "where"), ("set", "merge")),
    "upsert": (("target", "match", "value"), ("mode",)),
    "append_unique": (("target", "value"), ("match",)),
    "set_at": (("target", "value"), ("key", "index")),
    "merge_at": (("target", "value"), ("key", "index")),
    "remove_at": (("target",), ("key", "index")),
    "increment_at": (("target",), ("key", "index", "by")),
    "conditional": (("if", "then"), ("else",)),
    "let": (("name", "value", "in"), ()),
}
OPERATIONS = tuple(SIGNATURES)
PREDICATES = ("equals", "not_equals", "gt", "gte", "lt", "lte", "in", "not_in", "exists",
              "and", "or", "not")
ROOTS = ("data", "metadata", "state", "item")  # never let names
STATE_ROOT_OPS = frozenset({"set", "merge", "set_at", "merge_at", "remove_at", "increment_at"})
UPSERT_MODES = ("merge", "replace")
MAX_NESTING = 32  # operation lists and predicates inside each other

_ALLOWED = {name: frozenset(req + opt) for name, (req, opt) in SIGNATURES.items()}
_LET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ABSENT = object()


class TickError(Exception):
    """A handler cannot be applied to this event; ``path`` is the operation's path."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path
        self.event_index: int | None = None  # set by fold

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


# --- JSON helpers ------------------------------------------------------------------------

def _kind(v: Any) -> str:
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


def _show(v: Any) -> str:
    """repr for messages, shortened; never raises (huge ints have no repr in 3.11+)."""
    try:
        text = repr(v)
    except Exception:  # noqa: BLE001 - a message must not fail
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _copy(v: Any) -> Any:
    """Deep copy of JSON data (tuples become lists); scalars are shared."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_copy(x) for x in v]
    return v


def _eq(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but true != 1; containers compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(x, b[k]) for k, x in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _restore(names: dict, name: str, saved: Any) -> None:
    if saved is _ABSENT:
        names.pop(name, None)
    else:
        names[name] = saved


# --- values and predicates at run time -------------------------------------------------
# `names` maps every root a path may read (data, metadata, state, item, let names) to its
# value; operations change the state (and, in map.apply, the item) through it.

def _unknown_root(root: str) -> str:
    if root == "item":
        return "$.item (the array element) exists only inside where and map.apply"
    return f"$.{root} is not data, metadata, state or a let binding in scope"


def _read(text: str, names: dict, p: str) -> Any:
    try:
        root, segs = jsonpath.parse(text)
    except PathError as exc:
        raise TickError(str(exc), p) from None
    base = names.get(root, _ABSENT)
    if base is _ABSENT:
        raise TickError(_unknown_root(root), p)
    return jsonpath.get(base, segs)


def _resolve(value: Any, names: dict, p: str) -> Any:
    """The value of a handler value; MISSING for a path that is absent. Not a copy."""
    if isinstance(value, str):
        return _read(value, names, p) if value[:2] in ("$.", "$[") else value
    if isinstance(value, dict):
        if len(value) == 1 and "literal" in value:
            return value["literal"]
        out = {}
        for k, x in value.items():
            x = _resolve(x, names, p)
            if x is not MISSING:
                out[k] = x
        return out
    if isinstance(value, (list, tuple)):
        return [None if x is MISSING else x for x in (_resolve(x, names, p) for x in value)]
    return value


def _val(value: Any, names: dict, p: str) -> Any:
    v = _resolve(value, names, p)
    return None if v is MISSING else v


def _pred(pred: Any, names: dict, p: str) -> bool:
    if not isinstance(pred, dict) or len(pred) != 1:
        raise TickError("a predicate must be an object with exactly one key, its name", p)
    (name, arg), = pred.items()
    run = _PREDICATE_RUNNERS.get(name)
    if run is None:
        raise TickError(f"unknown predicate {_show(name)}", p)
    return run(arg, names, f"{p}.{name}")


def _pair(arg: Any, names: dict, p: str) -> tuple[Any, Any]:
    if not isinstance(arg, list) or len(arg) != 2:
        raise TickError("takes an array of two values, [left, right]", p)
    return _val(arg[0], names, p), _val(arg[1], names, p)


def _order(compare):
    def run(arg, names, p):
        a, b = _pair(arg, names, p)
        if _is_num(a) and _is_num(b) or isinstance(a, str) and isinstance(b, str):
            return compare(a, b)
        return False
    return run


def _in(arg, names, p) -> bool:
    a, container = _pair(arg, names, p)
    return isinstance(container, list) and any(_eq(a, x) for x in container)


def _exists(arg, names, p) -> bool:
    if not jsonpath.is_path(arg):
        raise TickError("takes a path, like $.state.owner", p)
    v = _read(arg, names, p)
    return v is not MISSING and v is not None


def _predicates(arg, names, p) -> list:
    if not isinstance(arg, list) or not arg:
        raise TickError("takes a non-empty array of predicates", p)
    return arg


def _and(arg, names, p) -> bool:
    return all(_pred(x, names, f"{p}[{i}]") for i, x in enumerate(_predicates(arg, names, p)))


def _or(arg, names, p) -> bool:
    return any(_pred(x, names, f"{p}[{i}]") for i, x in enumerate(_predicates(arg, names, p)))


_PREDICATE_RUNNERS = {
    "equals": lambda arg, names, p: _eq(*_pair(arg, names, p)),
    "not_equals": lambda arg, names, p: not _eq(*_pair(arg, names, p)),
    "gt": _order(operator.gt),
    "gte": _order(operator.ge),
    "lt": _order(operator.lt),
    "lte": _order(operator.le),
    "in": _in,
    "not_in": lambda arg, names, p: not _in(arg, names, p),
    "exists": _exists,
    "and": _and,
    "or": _or,
    "not": lambda arg, names, p: not _pred(arg, names, p),
}
assert tuple(_PREDICATE_RUNNERS) == PREDICATES


# --- writing into documents --------------------------------------------------------------

def _shown(prefix: str, segs, depth: int | None = None) -> str:
    return prefix + "".join(jsonpath.step_text(s) for s in segs[:depth])


def _put(holder: Any, key: Any, segs: tuple, value: Any, prefix: str, p: str) -> None:
    """Write value at holder[key] then segs, creating missing or null objects on the way.

    holder[key] is the base document (names[root], or an array element); prefix is how
    the base is shown in messages.
    """
    cont, k = holder, key
    for depth, seg in enumerate(segs):
        cur = cont.get(k, MISSING) if isinstance(cont, dict) else cont[k]
        if type(seg) is str:
            if cur is None or cur is MISSING:
                cur = cont[k] = {}
            elif not isinstance(cur, dict):
                raise TickError(f"cannot write {_shown(prefix, segs)}: {_shown(prefix, segs, depth)}"
                                f" is {_kind(cur)}, not an object", p)
        elif not isinstance(cur, list):
            raise TickError(f"cannot write {_shown(prefix, segs)}: {_shown(prefix, segs, depth)}"
                            f" is {_kind(cur)}, not an array", p)
        elif seg >= len(cur):
            raise TickError(f"cannot write {_shown(prefix, segs)}: index {seg} is out of range "
                            f"(the array has {len(cur)} elements)", p)
        cont, k = cur, seg
    cont[k] = value


class _Target(NamedTuple):
    root: str
    segs: tuple
    text: str


def _target(args: dict, troot: str, p: str) -> _Target:
    text = args.get("target", _ABSENT)
    if text is _ABSENT:
        raise TickError("missing argument 'target'", p)
    try:
        root, segs = jsonpath.parse(text)
    except PathError as exc:
        raise TickError(f"target: {exc}", p) from None
    if root != troot:
        raise TickError(f"target must be a path under $.{troot}, not {_show(text)}", p)
    return _Target(root, segs, text)


def _get(names: dict, t: _Target) -> Any:
    return jsonpath.get(names[t.root], t.segs)


def _set(names: dict, t: _Target, value: Any, p: str) -> None:
    if not t.segs and t.root == "state" and not isinstance(value, dict):
        raise TickError(f"the state must stay an object; cannot set it to {_kind(value)}", p)
    _put(names, t.root, t.segs, value, "$." + t.root, p)


def _need(args: dict, name: str, p: str) -> Any:
    value = args.get(name, _ABSENT)
    if value is _ABSENT:
        raise TickError(f"missing argument {_show(name)}", p)
    return value


def _object(args: dict, names: dict, p: str, what: str = "value") -> dict:
    v = _val(_need(args, what, p), names, p)
    if not isinstance(v, dict):
        raise TickError(f"{what} must be an object, got {_kind(v)}", p)
    return v


def _number(args: dict, names: dict, p: str) -> int | float:
    by = _val(args.get("by", 1), names, p)
    if not _is_num(by):
        raise TickError(f"by must be a number, got {_kind(by)}", p)
    return by


def _arith(a, b, sign: int, p: str) -> int | float:
    try:
        result = a + b if sign > 0 else a - b
    except OverflowError:
        raise TickError("the result is too large", p) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise TickError("the result is not a finite number", p)
    return result


def _array(names: dict, t: _Target, p: str, verb: str) -> list | None:
    """The target's array, or None when it is missing or null."""
    cur = _get(names, t)
    if cur is MISSING or cur is None:
        return None
    if not isinstance(cur, list):
        raise TickError(f"cannot {verb} {t.text}: it is {_kind(cur)}, not an array", p)
    return cur


def _where(arr: list, where: Any, names: dict, p: str) -> list[bool]:
    saved = names.get("item", _ABSENT)
    try:
        out = []
        for element in arr:
            names["item"] = element
            out.append(_pred(where, names, p + ".where"))
        return out
    finally:
        _restore(names, "item", saved)


def _field(args: dict, name: str, p: str) -> tuple:
    try:
        return jsonpath.parse_relative(_need(args, name, p))
    except PathError as exc:
        raise TickError(f"{name}: {exc}", p) from None


# --- the operations ----------------------------------------------------------------------

def _op_set(a, names, troot, p):
    t = _target(a, troot, p)
    _set(names, t, _copy(_val(_need(a, "value", p), names, p)), p)


def _op_merge(a, names, troot, p):
    t = _target(a, troot, p)
    v = _object(a, names, p)
    cur = _get(names, t)
    if cur is MISSING or cur is None:
        _set(names, t, _copy(v), p)
    elif isinstance(cur, dict):
        cur.update(_copy(v))
    else:
        raise TickError(f"cannot merge into {t.text}: it is {_kind(cur)}, not an object", p)


def _op_append(a, names, troot, p):
    t = _target(a, troot, p)
    v = _copy(_val(_need(a, "value", p), names, p))
    arr = _array(names, t, p, "append to")
    if arr is None:
        _set(names, t, [v], p)
    else:
        arr.append(v)


def _op_remove(a, names, troot, p):
    t = _target(a, troot, p)
    if "where" in a:
        arr = _array(names, t, p, "remove elements from")
        if arr:
            keep = _where(arr, a["where"], names, p)
            arr[:] = [e for e, hit in zip(arr, keep) if not hit]
        return
    if not t.segs:
        raise TickError(f"cannot remove {t.text} itself", p)
    parent, last = jsonpath.get(names[t.root], t.segs[:-1]), t.segs[-1]
    if type(last) is str:
        if isinstance(parent, dict):
            parent.pop(last, None)
    elif isinstance(parent, list) and last < len(parent):
        del parent[last]


def _counter(sign: int):
    def run(a, names, troot, p):
        t = _target(a, troot, p)
        by = _number(a, names, p)
        cur = _get(names, t)
        if cur is MISSING or cur is None:
            cur = 0
        elif not _is_num(cur):
            verb = "increment" if sign > 0 else "decrement"
            raise TickError(f"cannot {verb} {t.text}: it is {_kind(cur)}, not a number", p)
        _set(names, t, _arith(cur, by, sign, p), p)
    return run


def _op_filter(a, names, troot, p):
    t = _target(a, troot, p)
    where = _need(a, "where", p)
    arr = _array(names, t, p, "filter")
    if arr:
        keep = _where(arr, where, names, p)
        arr[:] = [e for e, hit in zip(arr, keep) if hit]


def _op_map(a, names, troot, p):
    t = _target(a, troot, p)
    ops = _need(a, "apply", p)
    arr = _array(names, t, p, "map")
    if arr is None:
        return
    saved = names.get("item", _ABSENT)
    out = []
    try:
        for i, element in enumerate(arr):
            names["item"] = _copy(element)
            try:
                _run(ops, names, "item", p + ".apply")
            except TickError as exc:
                raise TickError(f"{exc.message} (element {i} of {t.text})", exc.path) from None
            out.append(names["item"])
    finally:
        _restore(names, "item", saved)
    arr[:] = out


def _op_update_where(a, names, troot, p):
    t = _target(a, troot, p)
    where = _need(a, "where", p)
    sets, merge = a.get("set", _ABSENT), a.get("merge", _ABSENT)
    if sets is _ABSENT and merge is _ABSENT:
        raise TickError("needs set, merge or both", p)
    if sets is _ABSENT:
        sets = {}
    elif not isinstance(sets, dict):
        raise TickError(f"set must be an object of field paths to values, not {_kind(sets)}", p)
    try:
        fields = [(jsonpath.parse_relative(k), v) for k, v in sets.items()]
    except PathError as exc:
        raise TickError(f"set: {exc}", p) from None
    arr = _array(names, t, p, "update elements of")
    if not arr:
        return
    saved = names.get("item", _ABSENT)
    try:
        for i, (element, hit) in enumerate(zip(arr, _where(arr, where, names, p))):
            if not hit:
                continue
            if not isinstance(element, dict):
                raise TickError(f"cannot update {t.text}[{i}]: it is {_kind(element)}, "
                                f"not an object", p)
            names["item"] = element
            # every value sees the element as it was before this update
            merged = _copy(_object(a, names, p, "merge")) if merge is not _ABSENT else {}
            values = [(segs, _copy(_val(v, names, p))) for segs, v in fields]
            element.update(merged)
            for segs, v in values:
                _put(arr, i, segs, v, f"{t.text}[{i}]", p)
    finally:
        _restore(names, "item", saved)


def _op_upsert(a, names, troot, p):
    t = _target(a, troot, p)
    match = _field(a, "match", p)
    mode = a.get("mode", "merge")
    if mode not in UPSERT_MODES:
        raise TickError(f"mode must be 'merge' or 'replace', not {_show(mode)}", p)
    v = _object(a, names, p)
    key = jsonpath.get(v, match)
    if key is MISSING:
        raise TickError(f"the value has no {_show(a['match'])} field to match on", p)
    arr = _array(names, t, p, "upsert into")
    if arr is None:
        _set(names, t, [_copy(v)], p)
        return
    for i, element in enumerate(arr):
        if isinstance(element, dict) and _eq(jsonpath.get(element, match), key):
            if mode == "replace":
                arr[i] = _copy(v)
            else:
                element.update(_copy(v))
            return
    arr.append(_copy(v))


def _op_append_unique(a, names, troot, p):
    t = _target(a, troot, p)
    v = _val(_need(a, "value", p), names, p)
    if "match" in a:
        match = _field(a, "match", p)
        if not isinstance(v, dict):
            raise TickError(f"value must be an object when match is given, got {_kind(v)}", p)
        key = jsonpath.get(v, match)
        if key is MISSING:
            raise TickError(f"the value has no {_show(a['match'])} field to match on", p)
        def same(e): return isinstance(e, dict) and _eq(jsonpath.get(e, match), key)
    else:
        def same(e): return _eq(e, v)
    arr = _array(names, t, p, "append to")
    if arr is None:
        _set(names, t, [_copy(v)], p)
    elif not any(same(e) for e in arr):
        arr.append(_copy(v))


def _selector(a: dict, names: dict, p: str) -> tuple[bool, Any]:
    """(True, key) or (False, index)."""
    if ("key" in a) == ("index" in a):
        raise TickError("needs exactly one of key (an object's entry) or index (an array's "
                        "element)", p)
    if "key" in a:
        k = _val(a["key"], names, p)
        if _is_num(k) and isinstance(k, int):
            try:
                k = str(k)
            except ValueError:
                raise TickError("key is too large an integer", p) from None
        if not isinstance(k, str):
            raise TickError(f"key must be a string (or an integer), got {_kind(k)}", p)
        return True, k
    i = _val(a["index"], names, p)
    if not (_is_num(i) and isinstance(i, int)) or i < 0:
        raise TickError(f"index must be a non-negative integer, got {_kind(i)}"
                        + (f" {_show(i)}" if _is_num(i) else ""), p)
    return False, i


def _entries(names: dict, t: _Target, by_key: bool, sel: Any, p: str, create: bool):
    """The object (by_key) or array holding the selected entry; None if absent and not
    created. An index must be in range."""
    cur = _get(names, t)
    if by_key:
        if cur is MISSING or cur is None:
            if not create:
                return None
            cur = {}
            _set(names, t, cur, p)
        elif not isinstance(cur, dict):
            raise TickError(f"cannot select key {_show(sel)} of {t.text}: it is {_kind(cur)}, not an "
                            f"object", p)
        return cur
    if (cur is MISSING or cur is None) and not create:
        return None
    if not isinstance(cur, list):
        raise TickError(f"cannot select index {sel} of {t.text}: it is {_kind(cur)}, not an "
                        f"array", p)
    if sel >= len(cur) and create:
        raise TickError(f"index {sel} is out of range: {t.text} has {len(cur)} elements", p)
    return cur


def _op_set_at(a, names, troot, p):
    t = _target(a, troot, p)
    by_key, sel = _selector(a, names, p)
    v = _copy(_val(_need(a, "value", p), names, p))
    _entries(names, t, by_key, sel, p, create=True)[sel] = v


def _op_merge_at(a, names, troot, p):
    t = _target(a, troot, p)
    by_key, sel = _selector(a, names, p)
    v = _copy(_object(a, names, p))
    entries = _entries(names, t, by_key, sel, p, create=True)
    entry = entries.get(sel) if by_key else entries[sel]
    if entry is None:
        entries[sel] = v
    elif isinstance(entry, dict):
        entry.update(v)
    else:
        shown = f"{t.text}{jsonpath.step_text(sel)}"
        raise TickError(f"cannot merge into {shown}: it is {_kind(entry)}, not an object", p)


def _op_remove_at(a, names, troot, p):
    t = _target(a, troot, p)
    by_key, sel = _selector(a, names, p)
    entries = _entries(names, t, by_key, sel, p, create=False)
    if entries is None:
        return
    if by_key:
        entries.pop(sel, None)
    elif sel < len(entries):
        del entries[sel]


def _op_increment_at(a, names, troot, p):
    t = _target(a, troot, p)
    by_key, sel = _selector(a, names, p)
    by = _number(a, names, p)
    entries = _entries(names, t, by_key, sel, p, create=True)
    entry = entries.get(sel) if by_key else entries[sel]
    if entry is None:
        entry = 0
    elif not _is_num(entry):
        shown = f"{t.text}{jsonpath.step_text(sel)}"
        raise TickError(f"cannot increment {shown}: it is {_kind(entry)}, not a number", p)
    entries[sel] = _arith(entry, by, 1, p)


def _op_conditional(a, names, troot, p):
    then = _need(a, "then", p)
    if _pred(_need(a, "if", p), names, p + ".if"):
        _run(then, names, troot, p + ".then")
    elif "else" in a:
        _run(a["else"], names, troot, p + ".else")


def _op_let(a, names, troot, p):
    name = _need(a, "name", p)
    if not isinstance(name, str) or not _LET_NAME_RE.fullmatch(name) or name in ROOTS:
        raise TickError(f"name must be an identifier other than {', '.join(ROOTS)}, "
                        f"not {_show(name)}", p)
    value = _copy(_val(_need(a, "value", p), names, p))
    body = _need(a, "in", p)
    saved = names.get(name, _ABSENT)
    names[name] = value
    try:
        _run(body, names, troot, p + ".in")
    finally:
        _restore(names, name, saved)


_RUNNERS = {
    "set": _op_set, "merge": _op_merge, "append": _op_append, "remove": _op_remove,
    "increment": _counter(1), "decrement": _counter(-1), "filter": _op_filter,
    "map": _op_map, "update_where": _op_update_where, "upsert": _op_upsert,
    "append_unique": _op_append_unique, "set_at": _op_set_at, "merge_at": _op_merge_at,
    "remove_at": _op_remove_at, "increment_at": _op_increment_at,
    "conditional": _op_conditional, "let": _op_let,
}
assert tuple(_RUNNERS) == OPERATIONS


def _run(ops: Any, names: dict, troot: str, path: str) -> None:
    if not isinstance(ops, list):
        raise TickError(f"must be an array of operations, not {_kind(ops)}", path)
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or len(op) != 1:
            raise TickError("an operation must be an object with exactly one key, its name",
                            f"{path}[{i}]")
        (name, args), = op.items()
        run = _RUNNERS.get(name)
        if run is None:
            raise TickError(f"unknown operation {_show(name)}", f"{path}[{i}]")
        p = f"{path}[{i}].{name}"
        if not isinstance(args, dict):
            raise TickError(f"the arguments must be an object, not {_kind(args)}", p)
        if not _ALLOWED[name].issuperset(args):
            extra = sorted(str(k) for k in args if k not in _ALLOWED[name])
            raise TickError(f"unknown argument(s) {', '.join(extra)}", p)
        run(args, names, troot, p)


# --- public API --------------------------------------------------------------------------

def _apply_in_place(state: dict, handler: Any, data: Any, metadata: Any) -> dict:
    names = {"data": data, "metadata": metadata, "state": state}
    try:
        _run(handler, names, "state", "")
    except RecursionError:
        raise TickError("the handler, the state or the event is nested too deeply") from None
    return names["state"]


def _start(state: Any) -> dict:
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise TickError(f"the state must be an object, not {_kind(state)}")
    try:
        return _copy(state)
    except RecursionError:
        raise TickError("the state is nested too deeply") from None


def apply_handler(state: dict | None, handler: list, data: Any = None,
                  metadata: Any = None) -> dict:
    """The state after one event: a new object; state, handler and event are not changed.

    Raises TickError (and applies nothing) when the handler cannot be applied.
    """
    return _apply_in_place(_start(state), handler, data, metadata)


def fold(events: Iterable, initial: dict | None = None) -> dict:
    """Apply (handler, data, metadata) triples in order, from `initial` (default {}).

    Equal to chaining apply_handler, but copies the state once. A TickError carries the
    0-based `event_index` of the event that failed.
    """
    state = _start(initial)
    for i, event in enumerate(events):
        try:
            try:
                handler, data, metadata = event
            except (TypeError, ValueError):
                raise TickError("an event must be a (handler, data, metadata) triple") from None
            state = _apply_in_place(state, handler, data, metadata)
        except TickError as exc:
            exc.event_index = i
            raise
    return state


def _names(scope: Mapping | None) -> dict:
    names = {"data": MISSING, "metadata": MISSING, "state": MISSING}
    if scope is not None:
        if not isinstance(scope, Mapping):
            raise TickError(f"the scope must be a mapping of names to values, not {_kind(scope)}")
        names.update(scope)
    return names


def resolve(value: Any, scope: Mapping | None = None) -> Any:
    """The value of a handler value in `scope` ({"data", "metadata", "state", "item"?,
    let names}; absent roots read as missing). A copy: changing it changes no input.
    A path that is absent gives None (and is left out of template objects)."""
    try:
        return _copy(_val(value, _names(scope), ""))
    except RecursionError:
        raise TickError("the value is nested too deeply") from None


def evaluate_predicate(pred: Any, scope: Mapping | None = None) -> bool:
    """Whether a predicate holds in `scope` (see resolve)."""
    try:
        return _pred(pred, _names(scope), "")
    except RecursionError:
        raise TickError("the predicate is nested too deeply") from None


# --- static validation -------------------------------------------------------------------

class _Ctx(NamedTuple):
    troot: str = "state"        # what targets write: "state", or "item" inside map.apply
    item: bool = False          # whether $.item may be read
    names: frozenset = frozenset()  # let bindings in scope
    depth: int = 0


def _key(path: str, key: Any) -> str:
    return path + jsonpath.step_text(key if isinstance(key, str) else str(key))


def _is_literal_wrapper(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "literal" in v


class _Checker:
    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    # operation lists and operations ---------------------------------------------------

    def ops(self, ops: Any, path: str, ctx: _Ctx) -> None:
        if not isinstance(ops, list):
            self.add(path, f"must be an array of tick operations, not {_kind(ops)}")
            return
        if ctx.depth > MAX_NESTING:
            self.add(path, f"operations are nested more than {MAX_NESTING} levels deep")
            return
        ctx = ctx._replace(depth=ctx.depth + 1)
        for i, op in enumerate(ops):
            self.op(op, f"{path}[{i}]", ctx)

    def op(self, op: Any, path: str, ctx: _Ctx) -> None:
        if not isinstance(op, dict) or len(op) != 1:
            got = (f" (it has {len(op)} keys: {', '.join(sorted(map(str, op)))})"
                   if isinstance(op, dict) and op else f" (got {_kind(op)})")
            self.add(path, "an operation must be an object with exactly one key, the "
                           "operation's name" + got)
            return
        (name, args), = op.items()
        if name not in SIGNATURES:
            self.add(_key(path, name), f"unknown operation {_show(name)}; the operations are "
                                       f"{', '.join(OPERATIONS)}")
            return
        p = f"{path}.{name}"
        if not isinstance(args, dict):
            self.add(p, f"the arguments of {name} must be an object, not {_kind(args)}")
            return
        required, optional = SIGNATURES[name]
        for arg in required:
            if arg not in args:
                self.add(_key(p, arg), f"{name} needs the argument {_show(arg)}")
        for arg in args:
            if arg not in required and arg not in optional:
                self.add(_key(p, arg), f"unknown argument {_show(arg)}; {name} takes "
                                       f"{_describe(name)}")
        getattr(self, "op_" + name)(args, p, ctx)

    def target(self, a: dict, p: str, ctx: _Ctx, op: str) -> tuple | None:
        """The target's segments when it is a valid target, else None."""
        if "target" not in a:
            return None
        text, q = a["target"], p + ".target"
        if not isinstance(text, str):
            self.add(q, f"target must be a path like $.{ctx.troot}.field, not {_kind(text)}")
            return None
        try:
            root, segs = jsonpath.parse(text)
        except PathError as exc:
            self.add(q, str(exc))
            return None
        if root != ctx.troot:
            where = (" (operations in map.apply change the element, $.item)"
                     if ctx.troot == "item" else "")
            self.add(q, f"target must be a path under $.{ctx.troot}, not {_show(text)}{where}")
            return None
        if not segs:
            if ctx.troot == "state" and op not in STATE_ROOT_OPS:
                self.add(q, f"{op} cannot target the state itself; name a field, like "
                            f"$.state.items")
            if ctx.troot == "item" and op == "remove" and "where" not in a:
                self.add(q, "remove cannot delete the element itself; use filter (or remove "
                            "with where) on the array")
        return segs

    def op_set(self, a, p, ctx):
        segs = self.target(a, p, ctx, "set")
        if "value" in a:
            self.value(a["value"], p + ".value", ctx)
            if segs == () and ctx.troot == "state":
                self.object_value(a["value"], p + ".value", ctx, "the new state", check=False)

    def op_merge(self, a, p, ctx):
        self.target(a, p, ctx, "merge")
        if "value" in a:
            self.object_value(a["value"], p + ".value", ctx, "the value merged")

    def op_append(self, a, p, ctx):
        self.target(a, p, ctx, "append")
        if "value" in a:
            self.value(a["value"], p + ".value", ctx)

    def op_remove(self, a, p, ctx):
        self.target(a, p, ctx, "remove")
        if "where" in a:
            self.pred(a["where"], p + ".where", ctx._replace(item=True))

    def op_increment(self, a, p, ctx, op="increment"):
        self.target(a, p, ctx, op)
        if "by" in a:
            self.number_value(a["by"], p + ".by", ctx)

    def op_decrement(self, a, p, ctx):
        self.op_increment(a, p, ctx, "decrement")

    def op_filter(self, a, p, ctx):
        self.target(a, p, ctx, "filter")
        if "where" in a:
            self.pred(a["where"], p + ".where", ctx._replace(item=True))

    def op_map(self, a, p, ctx):
        self.target(a, p, ctx, "map")
        if "apply" in a:
            self.ops(a["apply"], p + ".apply", ctx._replace(troot="item", item=True))

    def op_update_where(self, a, p, ctx):
        self.target(a, p, ctx, "update_where")
        inner = ctx._replace(item=True)
        if "where" in a:
            self.pred(a["where"], p + ".where", inner)
        if "set" not in a and "merge" not in a:
            self.add(p, "update_where needs set (field paths to values), merge (an object) "
                        "or both")
        if "merge" in a:
            self.object_value(a["merge"], p + ".merge", inner, "merge")
        if "set" in a:
            fields, q = a["set"], p + ".set"
            if not isinstance(fields, dict) or not fields:
                self.add(q, "set must be a non-empty object of field paths to values, like "
                            "{\"status\": \"$.data.status\"}")
                return
            for field, value in fields.items():
                self.field(field, _key(q, field))
                self.value(value, _key(q, field), inner)

    def op_upsert(self, a, p, ctx):
        self.target(a, p, ctx, "upsert")
        if "match" in a:
            self.field(a["match"], p + ".match")
        if "value" in a:
            self.object_value(a["value"], p + ".value", ctx, "the value upserted")
        if "mode" in a and a["mode"] not in UPSERT_MODES:
            self.add(p + ".mode", f"mode must be 'merge' or 'replace', not {_show(a['mode'])}")

    def op_append_unique(self, a, p, ctx):
        self.target(a, p, ctx, "append_unique")
        if "match" in a:
            self.field(a["match"], p + ".match")
        if "value" in a:
            if "match" in a:
                self.object_value(a["value"], p + ".value", ctx, "with match, the value")
            else:
                self.value(a["value"], p + ".value", ctx)

    def selector(self, a, p, ctx, segs):
        if ("key" in a) == ("index" in a):
            self.add(p, "needs exactly one of key (an object's entry) or index (an array's "
                        "element)")
        if "key" in a:
            self.key_value(a["key"], p + ".key", ctx)
        if "index" in a:
            self.index_value(a["index"], p + ".index", ctx)
            if segs == () and ctx.troot == "state":
                self.add(p + ".index", "the state is an object: select its entries with key")

    def op_set_at(self, a, p, ctx):
        self.selector(a, p, ctx, self.target(a, p, ctx, "set_at"))
        if "value" in a:
            self.value(a["value"], p + ".value", ctx)

    def op_merge_at(self, a, p, ctx):
        self.selector(a, p, ctx, self.target(a, p, ctx, "merge_at"))
        if "value" in a:
            self.object_value(a["value"], p + ".value", ctx, "the value merged")

    def op_remove_at(self, a, p, ctx):
        self.selector(a, p, ctx, self.target(a, p, ctx, "remove_at"))

    def op_increment_at(self, a, p, ctx):
        self.selector(a, p, ctx, self.target(a, p, ctx, "increment_at"))
        if "by" in a:
            self.number_value(a["by"], p + ".by", ctx)

    def op_conditional(self, a, p, ctx):
        if "if" in a:
            self.pred(a["if"], p + ".if", ctx)
        if "then" in a:
            self.ops(a["then"], p + ".then", ctx)
        if "else" in a:
            self.ops(a["else"], p + ".else", ctx)

    def op_let(self, a, p, ctx):
        name = a.get("name", _ABSENT)
        ok = isinstance(name, str) and _LET_NAME_RE.fullmatch(name) and name not in ROOTS
        if name is not _ABSENT and not ok:
            self.add(p + ".name", f"name must be an identifier ([A-Za-z_][A-Za-z0-9_]*) other "
                                  f"than {', '.join(ROOTS)}, not {_show(name)}")
        if "value" in a:
            self.value(a["value"], p + ".value", ctx)
        if "in" in a:
            inner = ctx._replace(names=ctx.names | {name}) if ok else ctx
            self.ops(a["in"], p + ".in", inner)

    # values ---------------------------------------------------------------------------

    def read_path(self, text: str, p: str, ctx: _Ctx) -> None:
        try:
            root, _ = jsonpath.parse(text)
        except PathError as exc:
            self.add(p, f"{exc}; a literal string that starts with '$.' is written "
                        f"{{\"literal\": ...}}")
            return
        if root in ("data", "metadata", "state") or root in ctx.names:
            return
        if root == "item":
            if not ctx.item:
                self.add(p, f"{_show(text)}: {_unknown_root('item')}")
            return
        self.add(p, f"{_show(text)}: {_unknown_root(root)}")

    def value(self, v: Any, p: str, ctx: _Ctx, depth: int = 0) -> None:
        if depth > 64:
            self.add(p, "the value is nested more than 64 levels deep")
        elif isinstance(v, str):
            if jsonpath.is_path(v):
                self.read_path(v, p, ctx)
        elif _is_literal_wrapper(v):
            self.json(v["literal"], p + ".literal", depth + 1)
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    self.add(p, f"object keys must be strings, not {_kind(k)}")
                self.value(x, _key(p, k), ctx, depth + 1)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                self.value(x, f"{p}[{i}]", ctx, depth + 1)
        else:
            self.json(v, p, depth)

    def json(self, v: Any, p: str, depth: int = 0) -> None:
        """A literal: plain JSON, paths not looked into."""
        if depth > 64:
            self.add(p, "the value is nested more than 64 levels deep")
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    self.add(p, f"object keys must be strings, not {_kind(k)}")
                self.json(x, _key(p, k), depth + 1)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                self.json(x, f"{p}[{i}]", depth + 1)
        elif isinstance(v, float) and not math.isfinite(v):
            self.add(p, "numbers must be finite")
        elif not (v is None or isinstance(v, (str, bool, int, float))):
            self.add(p, f"{type(v).__name__} is not a JSON value")

    def object_value(self, v, p, ctx, what, check=True):
        """A value that must give an object: a template object, {"literal": {...}} or a path."""
        if check:
            self.value(v, p, ctx)
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if not isinstance(literal, dict) and not jsonpath.is_path(v):
            self.add(p, f"{what} must be an object (or a path to one), not {_kind(literal)}")

    def number_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if jsonpath.is_path(v):
            self.read_path(v, p, ctx)
        elif not _is_num(literal):
            self.add(p, f"must be a number (or a path to one), not {_kind(literal)}")
        elif isinstance(literal, float) and not math.isfinite(literal):
            self.add(p, "numbers must be finite")

    def key_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if jsonpath.is_path(v):
            self.read_path(v, p, ctx)
        elif not (isinstance(literal, str) or _is_num(literal) and isinstance(literal, int)):
            self.add(p, f"key must be a string, an integer or a path to one, not "
                        f"{_kind(literal)}")

    def index_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if jsonpath.is_path(v):
            self.read_path(v, p, ctx)
        elif not (_is_num(literal) and isinstance(literal, int) and literal >= 0):
            self.add(p, f"index must be a non-negative integer or a path to one, not "
                        f"{_show(literal)}")

    def field(self, v, p):
        try:
            jsonpath.parse_relative(v)
        except PathError as exc:
            self.add(p, str(exc))

    # predicates -----------------------------------------------------------------------

    def pred(self, pred: Any, p: str, ctx: _Ctx) -> None:
        if ctx.depth > MAX_NESTING:
            self.add(p, f"predicates are nested more than {MAX_NESTING} levels deep")
            return
        ctx = ctx._replace(depth=ctx.depth + 1)
        if not isinstance(pred, dict) or len(pred) != 1:
            self.add(p, f"a predicate must be an object with exactly one key, one of "
                        f"{', '.join(PREDICATES)} (got {_kind(pred)}"
                        + (f" with {len(pred)} keys)" if isinstance(pred, dict) else ")"))
            return
        (name, arg), = pred.items()
        q = _key(p, name)
        if name not in PREDICATES:
            self.add(q, f"unknown predicate {_show(name)}; the predicates are "
                        f"{', '.join(PREDICATES)}")
        elif name in ("and", "or"):
            if not isinstance(arg, list) or not arg:
                self.add(q, f"{name} takes a non-empty array of predicates")
                return
            for i, x in enumerate(arg):
                self.pred(x, f"{q}[{i}]", ctx)
        elif name == "not":
            self.pred(arg, q, ctx)
        elif name == "exists":
            if jsonpath.is_path(arg):
                self.read_path(arg, q, ctx)
            else:
                self.add(q, f"exists takes a path like $.state.owner, not {_show(arg)}")
        elif not isinstance(arg, list) or len(arg) != 2:
            self.add(q, f"{name} takes an array of two values, [left, right]")
        else:
            self.value(arg[0], q + "[0]", ctx)
            self.value(arg[1], q + "[1]", ctx)
            if name in ("in", "not_in"):
                right = arg[1]["literal"] if _is_literal_wrapper(arg[1]) else arg[1]
                if not isinstance(right, list) and not jsonpath.is_path(arg[1]):
                    self.add(q + "[1]", f"{name} needs an array (or a path to one) on the "
                                        f"right, not {_kind(right)}")
            elif name in ("gt", "gte", "lt", "lte"):
                for i, side in enumerate(arg):
                    literal = side["literal"] if _is_literal_wrapper(side) else side
                    if not jsonpath.is_path(side) and not (
                            _is_num(literal) or isinstance(literal, str)):
                        self.add(f"{q}[{i}]", f"{name} compares numbers or strings, not "
                                              f"{_kind(literal)}")


def _describe(op: str) -> str:
    required, optional = SIGNATURES[op]
    return ", ".join(list(required) + [f"{o}?" for o in optional])


def validate_handler(handler: Any) -> list[dict[str, str]]:
    """Every static problem of a handler, as {"path", "message"}; [] when it is valid.

    Paths are relative to the handler: "" is the handler itself, "[2].set.target" an
    argument. Checks operations, predicates, arguments, paths and literal types without
    running anything; problems only data can show are TickErrors at apply time.
    """
    checker = _Checker()
    try:
        checker.ops(handler, "", _Ctx())
    except RecursionError:
        checker.add("", "the handler is nested too deeply")
    return checker.problems


def validate_predicate(pred: Any, *, item: bool = False,
                       names: Iterable[str] = ()) -> list[dict[str, str]]:
    """Static problems of a predicate; `item` allows $.item, `names` are let bindings."""
    checker = _Checker()
    checker.pred(pred, "", _Ctx(item=item, names=frozenset(names)))
    return checker.problems


def validate_value(value: Any, *, item: bool = False,
                   names: Iterable[str] = ()) -> list[dict[str, str]]:
    """Static problems of a value (a literal, a path or a template)."""
    checker = _Checker()
    checker.value(value, "", _Ctx(item=item, names=frozenset(names)))
    return checker.problems
