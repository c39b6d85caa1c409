"""The tick operations at run time: their signatures, one runner per operation (set,
merge, append, remove, increment, decrement, filter, map, update_where, upsert,
append_unique, set_at, merge_at, remove_at, increment_at, conditional, let), running an
operation list, and the public ``apply_handler`` and ``fold``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.domain import jsonpath
from chalicelib.domain.jsonpath import MISSING, PathError
from chalicelib.domain.ticks.targets import (
    arith,
    array_at,
    entries_at,
    field_arg,
    need,
    number_arg,
    object_arg,
    put,
    read_target,
    selector_of,
    target_of,
    where_matches,
    write_target,
)
from chalicelib.domain.ticks.values import (
    ABSENT,
    LET_NAME_RE,
    ROOTS,
    Skip,
    TickError,
    deep_copy,
    is_bare_conditional,
    is_num,
    kind_of,
    predicate_holds,
    restore,
    show_value,
    tick_equal,
    value_of,
)

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
STATE_ROOT_OPS = frozenset({"set", "merge", "set_at", "merge_at", "remove_at", "increment_at"})
UPSERT_MODES = ("merge", "replace")

_ALLOWED = {name: frozenset(req + opt) for name, (req, opt) in SIGNATURES.items()}


# --- the operations ----------------------------------------------------------------------

def _op_set(a, names, troot, p):
    t = target_of(a, troot, p)
    write_target(names, t, deep_copy(value_of(need(a, "value", p), names, p)), p)


def _op_merge(a, names, troot, p):
    t = target_of(a, troot, p)
    v = object_arg(a, names, p)
    cur = read_target(names, t)
    if cur is MISSING or cur is None:
        write_target(names, t, deep_copy(v), p)
    elif isinstance(cur, dict):
        cur.update(deep_copy(v))
    else:
        raise TickError(f"cannot merge into {t.text}: it is {kind_of(cur)}, not an object", p)


def _op_append(a, names, troot, p):
    t = target_of(a, troot, p)
    v = deep_copy(value_of(need(a, "value", p), names, p))
    arr = array_at(names, t, p, "append to")
    if arr is None:
        write_target(names, t, [v], p)
    else:
        arr.append(v)


def _op_remove(a, names, troot, p):
    t = target_of(a, troot, p)
    if "where" in a:
        arr = array_at(names, t, p, "remove elements from")
        if arr:
            keep = where_matches(arr, a["where"], names, p)
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
        t = target_of(a, troot, p)
        by = number_arg(a, names, p)
        cur = read_target(names, t)
        if cur is MISSING or cur is None:
            cur = 0
        elif not is_num(cur):
            verb = "increment" if sign > 0 else "decrement"
            raise TickError(f"cannot {verb} {t.text}: it is {kind_of(cur)}, not a number", p)
        write_target(names, t, arith(cur, by, sign, p), p)
    return run


def _op_filter(a, names, troot, p):
    t = target_of(a, troot, p)
    where = need(a, "where", p)
    arr = array_at(names, t, p, "filter")
    if arr:
        keep = where_matches(arr, where, names, p)
        arr[:] = [e for e, hit in zip(arr, keep) if hit]


def _op_map(a, names, troot, p):
    t = target_of(a, troot, p)
    ops = need(a, "apply", p)
    arr = array_at(names, t, p, "map")
    if arr is None:
        return
    saved = names.get("item", ABSENT)
    out = []
    try:
        for i, element in enumerate(arr):
            names["item"] = deep_copy(element)
            try:
                _run(ops, names, "item", p + ".apply")
            except TickError as exc:
                raise TickError(f"{exc.message} (element {i} of {t.text})", exc.path) from None
            out.append(names["item"])
    finally:
        restore(names, "item", saved)
    arr[:] = out


def _op_update_where(a, names, troot, p):
    t = target_of(a, troot, p)
    where = need(a, "where", p)
    sets, merge = a.get("set", ABSENT), a.get("merge", ABSENT)
    if sets is ABSENT and merge is ABSENT:
        raise TickError("needs set, merge or both", p)
    if sets is ABSENT:
        sets = {}
    elif not isinstance(sets, dict):
        raise TickError(f"set must be an object of field paths to values, not {kind_of(sets)}", p)
    try:
        fields = [(jsonpath.parse_relative(k), v) for k, v in sets.items()]
    except PathError as exc:
        raise TickError(f"set: {exc}", p) from None
    arr = array_at(names, t, p, "update elements of")
    if not arr:
        return
    saved = names.get("item", ABSENT)
    try:
        for i, (element, hit) in enumerate(zip(arr, where_matches(arr, where, names, p))):
            if not hit:
                continue
            if not isinstance(element, dict):
                raise TickError(f"cannot update {t.text}[{i}]: it is {kind_of(element)}, "
                                f"not an object", p)
            names["item"] = element
            # every value sees the element as it was before this update
            merged = deep_copy(object_arg(a, names, p, "merge")) if merge is not ABSENT else {}
            values = [(segs, deep_copy(value_of(v, names, p))) for segs, v in fields]
            element.update(merged)
            for segs, v in values:
                put(arr, i, segs, v, f"{t.text}[{i}]", p)
    finally:
        restore(names, "item", saved)


def _op_upsert(a, names, troot, p):
    t = target_of(a, troot, p)
    match = field_arg(a, "match", p)
    mode = a.get("mode", "merge")
    if mode not in UPSERT_MODES:
        raise TickError(f"mode must be 'merge' or 'replace', not {show_value(mode)}", p)
    v = object_arg(a, names, p)
    key = jsonpath.get(v, match)
    if key is MISSING:
        raise TickError(f"the value has no {show_value(a['match'])} field to match on", p)
    arr = array_at(names, t, p, "upsert into")
    if arr is None:
        write_target(names, t, [deep_copy(v)], p)
        return
    for i, element in enumerate(arr):
        if isinstance(element, dict) and tick_equal(jsonpath.get(element, match), key):
            if mode == "replace":
                arr[i] = deep_copy(v)
            else:
                element.update(deep_copy(v))
            return
    arr.append(deep_copy(v))


def _op_append_unique(a, names, troot, p):
    t = target_of(a, troot, p)
    v = value_of(need(a, "value", p), names, p)
    if "match" in a:
        match = field_arg(a, "match", p)
        if not isinstance(v, dict):
            raise TickError(f"value must be an object when match is given, got {kind_of(v)}", p)
        key = jsonpath.get(v, match)
        if key is MISSING:
            raise TickError(f"the value has no {show_value(a['match'])} field to match on", p)
        def same(e): return isinstance(e, dict) and tick_equal(jsonpath.get(e, match), key)
    else:
        def same(e): return tick_equal(e, v)
    arr = array_at(names, t, p, "append to")
    if arr is None:
        write_target(names, t, [deep_copy(v)], p)
    elif not any(same(e) for e in arr):
        arr.append(deep_copy(v))


def _op_set_at(a, names, troot, p):
    t = target_of(a, troot, p)
    by_key, sel = selector_of(a, names, p)
    v = deep_copy(value_of(need(a, "value", p), names, p))
    entries_at(names, t, by_key, sel, p, create=True)[sel] = v


def _op_merge_at(a, names, troot, p):
    t = target_of(a, troot, p)
    by_key, sel = selector_of(a, names, p)
    v = deep_copy(object_arg(a, names, p))
    entries = entries_at(names, t, by_key, sel, p, create=True)
    entry = entries.get(sel) if by_key else entries[sel]
    if entry is None:
        entries[sel] = v
    elif isinstance(entry, dict):
        entry.update(v)
    else:
        shown = f"{t.text}{jsonpath.step_text(sel)}"
        raise TickError(f"cannot merge into {shown}: it is {kind_of(entry)}, not an object", p)


def _op_remove_at(a, names, troot, p):
    t = target_of(a, troot, p)
    by_key, sel = selector_of(a, names, p)
    entries = entries_at(names, t, by_key, sel, p, create=False)
    if entries is None:
        return
    if by_key:
        entries.pop(sel, None)
    elif sel < len(entries):
        del entries[sel]


def _op_increment_at(a, names, troot, p):
    t = target_of(a, troot, p)
    by_key, sel = selector_of(a, names, p)
    by = number_arg(a, names, p)
    entries = entries_at(names, t, by_key, sel, p, create=True)
    entry = entries.get(sel) if by_key else entries[sel]
    if entry is None:
        entry = 0
    elif not is_num(entry):
        shown = f"{t.text}{jsonpath.step_text(sel)}"
        raise TickError(f"cannot increment {shown}: it is {kind_of(entry)}, not a number", p)
    entries[sel] = arith(entry, by, 1, p)


def _op_conditional(a, names, troot, p):
    then = need(a, "then", p)
    if predicate_holds(need(a, "if", p), names, p + ".if"):
        _run(then, names, troot, p + ".then")
    elif "else" in a:
        _run(a["else"], names, troot, p + ".else")


def _op_let(a, names, troot, p):
    name = need(a, "name", p)
    if not isinstance(name, str) or not LET_NAME_RE.fullmatch(name) or name in ROOTS:
        raise TickError(f"name must be an identifier other than {', '.join(ROOTS)}, "
                        f"not {show_value(name)}", p)
    value = deep_copy(value_of(need(a, "value", p), names, p))
    body = need(a, "in", p)
    saved = names.get(name, ABSENT)
    names[name] = value
    try:
        _run(body, names, troot, p + ".in")
    finally:
        restore(names, name, saved)


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
        raise TickError(f"must be an array of operations, not {kind_of(ops)}", path)
    for i, op in enumerate(ops):
        if type(op) is not dict or len(op) != 1:
            if is_bare_conditional(op):
                try:
                    _op_conditional(op, names, troot, f"{path}[{i}]")
                except Skip:
                    pass
                continue
            raise TickError("an operation must be an object with exactly one key, its name",
                            f"{path}[{i}]")
        (name, args), = op.items()
        run = _RUNNERS.get(name)
        if run is None:
            raise TickError(f"unknown operation {show_value(name)}", f"{path}[{i}]")
        p = f"{path}[{i}].{name}"
        if not isinstance(args, dict):
            raise TickError(f"the arguments must be an object, not {kind_of(args)}", p)
        if not _ALLOWED[name].issuperset(args):
            extra = sorted(str(k) for k in args if k not in _ALLOWED[name])
            raise TickError(f"unknown argument(s) {', '.join(extra)}", p)
        try:
            run(args, names, troot, p)
        except Skip:  # an optional value was missing: this operation does nothing
            continue


# --- public API --------------------------------------------------------------------------

def _apply_in_place(state: dict, handler: Any, data: Any, metadata: Any,
                    key: Any = MISSING, event_type: Any = MISSING) -> dict:
    names = {"data": data, "metadata": metadata, "state": state, "key": key,
             "id": key.split(":", 1)[1] if isinstance(key, str) and ":" in key else MISSING,
             "type": event_type}
    try:
        _run(handler, names, "state", "")
    except RecursionError:
        raise TickError("the handler, the state or the event is nested too deeply") from None
    return names["state"]


def _start(state: Any) -> dict:
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise TickError(f"the state must be an object, not {kind_of(state)}")
    try:
        return deep_copy(state)
    except RecursionError:
        raise TickError("the state is nested too deeply") from None


def apply_handler(state: dict | None, handler: list, data: Any = None,
                  metadata: Any = None, key: Any = MISSING, event_type: Any = MISSING) -> dict:
    """The state after one event: a new object; state, handler and event are not changed.
    `key` ("<type>:<id>") and `event_type` are what $.key and $.type read ($.id: the id
    part of the key).

    Raises TickError (and applies nothing) when the handler cannot be applied.
    """
    return _apply_in_place(_start(state), handler, data, metadata, key, event_type)


def fold(events: Iterable, initial: dict | None = None) -> dict:
    """Apply (handler, data, metadata[, key, event_type]) tuples in order, from
    `initial` (default {}).

    Equal to chaining apply_handler, but copies the state once. A TickError carries the
    0-based `event_index` of the event that failed.
    """
    state = _start(initial)
    for i, event in enumerate(events):
        try:
            if not isinstance(event, (tuple, list)) or len(event) not in (3, 5):
                raise TickError("an event must be a (handler, data, metadata[, key, type]) "
                                "tuple")
            state = _apply_in_place(state, *event)
        except TickError as exc:
            exc.event_index = i
            raise
    return state
