"""Writing into documents for the tick operations: parsing an operation's target,
writing a value at a path (creating missing or null objects on the way), reading an
operation's arguments (a value, an object, a number, a field path), running ``where``
over an array, and selecting an entry of an object or array by ``key`` or ``index``."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

from chalicelib.domain import jsonpath
from chalicelib.domain.jsonpath import MISSING, PathError
from chalicelib.domain.ticks.values import (
    ABSENT,
    TickError,
    is_num,
    kind_of,
    restore,
    show_value,
    value_of,
    where_holds,
)

# --- writing into documents --------------------------------------------------------------

def _shown(prefix: str, segs, depth: int | None = None) -> str:
    return prefix + "".join(jsonpath.step_text(s) for s in segs[:depth])


def put(holder: Any, key: Any, segs: tuple, value: Any, prefix: str, p: str) -> None:
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
                                f" is {kind_of(cur)}, not an object", p)
        elif not isinstance(cur, list):
            raise TickError(f"cannot write {_shown(prefix, segs)}: {_shown(prefix, segs, depth)}"
                            f" is {kind_of(cur)}, not an array", p)
        elif seg >= len(cur):
            raise TickError(f"cannot write {_shown(prefix, segs)}: index {seg} is out of range "
                            f"(the array has {len(cur)} elements)", p)
        cont, k = cur, seg
    cont[k] = value


class _Target(NamedTuple):
    root: str
    segs: tuple
    text: str


def parse_target(text: Any, troot: str) -> tuple[str, tuple]:
    """(root, segments) of a target. The platform's form is a path relative to the state
    (to the element inside map.apply): "" is the whole of it, "status" a field,
    "profile.name" a nested one, "lines[0]" an element; "$.state..." is an alias.
    PathError when it is neither."""
    if type(text) is str:
        return _parse_target(text, troot)
    return jsonpath.parse(text)


@lru_cache(maxsize=4096)
def _parse_target(text: str, troot: str) -> tuple[str, tuple]:
    if not text.startswith("$"):
        return troot, (jsonpath.parse_relative(text) if text else ())
    return jsonpath.parse(text)


def target_of(args: dict, troot: str, p: str) -> _Target:
    text = args.get("target", ABSENT)
    if text is ABSENT:
        raise TickError("missing argument 'target'", p)
    try:
        root, segs = parse_target(text, troot)
    except PathError as exc:
        raise TickError(f"target: {exc}", p) from None
    if root != troot:
        raise TickError(f"target must be a path into the {_WHAT[troot]}, like \"status\" or "
                        f"\"profile.name\", not {show_value(text)}", p)
    return _Target(root, segs, text or "the state")


_WHAT = {"state": "state", "item": "element"}


def read_target(names: dict, t: _Target) -> Any:
    return jsonpath.get(names[t.root], t.segs)


def write_target(names: dict, t: _Target, value: Any, p: str) -> None:
    if not t.segs and t.root == "state" and not isinstance(value, dict):
        raise TickError(f"the state must stay an object; cannot set it to {kind_of(value)}", p)
    put(names, t.root, t.segs, value, "$." + t.root, p)


def need(args: dict, name: str, p: str) -> Any:
    value = args.get(name, ABSENT)
    if value is ABSENT:
        raise TickError(f"missing argument {show_value(name)}", p)
    return value


def object_arg(args: dict, names: dict, p: str, what: str = "value") -> dict:
    v = value_of(need(args, what, p), names, p)
    if not isinstance(v, dict):
        raise TickError(f"{what} must be an object, got {kind_of(v)}", p)
    return v


def number_arg(args: dict, names: dict, p: str) -> int | float:
    by = value_of(args.get("by", 1), names, p)
    if not is_num(by):
        raise TickError(f"by must be a number, got {kind_of(by)}", p)
    return by


def arith(a, b, sign: int, p: str) -> int | float:
    try:
        result = a + b if sign > 0 else a - b
    except OverflowError:
        raise TickError("the result is too large", p) from None
    if isinstance(result, float) and not math.isfinite(result):
        raise TickError("the result is not a finite number", p)
    return result


def array_at(names: dict, t: _Target, p: str, verb: str) -> list | None:
    """The target's array, or None when it is missing or null."""
    cur = read_target(names, t)
    if cur is MISSING or cur is None:
        return None
    if not isinstance(cur, list):
        raise TickError(f"cannot {verb} {t.text}: it is {kind_of(cur)}, not an array", p)
    return cur


def where_matches(arr: list, where: Any, names: dict, p: str) -> list[bool]:
    saved = names.get("item", ABSENT)
    try:
        out = []
        for element in arr:
            names["item"] = element
            out.append(where_holds(where, names, p + ".where"))
        return out
    finally:
        restore(names, "item", saved)


def field_arg(args: dict, name: str, p: str) -> tuple:
    try:
        return jsonpath.parse_relative(need(args, name, p))
    except PathError as exc:
        raise TickError(f"{name}: {exc}", p) from None


def selector_of(a: dict, names: dict, p: str) -> tuple[bool, Any]:
    """(True, key) or (False, index)."""
    if ("key" in a) == ("index" in a):
        raise TickError("needs exactly one of key (an object's entry) or index (an array's "
                        "element)", p)
    if "key" in a:
        k = value_of(a["key"], names, p)
        if is_num(k) and isinstance(k, int):
            try:
                k = str(k)
            except ValueError:
                raise TickError("key is too large an integer", p) from None
        if not isinstance(k, str):
            raise TickError(f"key must be a string (or an integer), got {kind_of(k)}", p)
        return True, k
    i = value_of(a["index"], names, p)
    if not (is_num(i) and isinstance(i, int)) or i < 0:
        raise TickError(f"index must be a non-negative integer, got {kind_of(i)}"
                        + (f" {show_value(i)}" if is_num(i) else ""), p)
    return False, i


def entries_at(names: dict, t: _Target, by_key: bool, sel: Any, p: str, create: bool):
    """The object (by_key) or array holding the selected entry; None if absent and not
    created. An index must be in range."""
    cur = read_target(names, t)
    if by_key:
        if cur is MISSING or cur is None:
            if not create:
                return None
            cur = {}
            write_target(names, t, cur, p)
        elif not isinstance(cur, dict):
            raise TickError(f"cannot select key {show_value(sel)} of {t.text}: it is {kind_of(cur)}, not an "
                            f"object", p)
        return cur
    if (cur is MISSING or cur is None) and not create:
        return None
    if not isinstance(cur, list):
        raise TickError(f"cannot select index {sel} of {t.text}: it is {kind_of(cur)}, not an "
                        f"array", p)
    if sel >= len(cur) and create:
        raise TickError(f"index {sel} is out of range: {t.text} has {len(cur)} elements", p)
    return cur
