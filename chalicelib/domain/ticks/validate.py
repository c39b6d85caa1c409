"""Static checks of tick handlers, predicates and values: every problem found without
running anything (unknown operations and arguments, bad targets and paths, roots not in
scope, literals of the wrong type, nesting too deep), reported as ``{"path",
"message"}`` by ``validate_handler``, ``validate_predicate`` and ``validate_value``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from chalicelib.domain import jsonpath
from chalicelib.domain.jsonpath import PathError
from chalicelib.domain.ticks.targets import parse_target
from chalicelib.domain.ticks.operations import (
    OPERATIONS,
    SIGNATURES,
    STATE_ROOT_OPS,
    UPSERT_MODES,
)
from chalicelib.domain.ticks.values import (
    ABSENT,
    LET_NAME_RE,
    PREDICATES,
    ROOTS,
    is_bare_conditional,
    is_num,
    kind_of,
    reference,
    show_value,
    unknown_root,
)

MAX_NESTING = 32  # operation lists and predicates inside each other


class _Ctx(NamedTuple):
    troot: str = "state"        # what targets write: "state", or "item" inside map.apply
    item: bool = False          # whether $.item may be read
    names: frozenset = frozenset()  # let bindings in scope
    depth: int = 0


def _key(path: str, key: Any) -> str:
    return path + jsonpath.step_text(key if isinstance(key, str) else str(key))


def _is_literal_wrapper(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "literal" in v


def _is_ref(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "$" in v


def _is_merge(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and "$merge" in v


class _Checker:
    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    # operation lists and operations ---------------------------------------------------

    def ops(self, ops: Any, path: str, ctx: _Ctx) -> None:
        if not isinstance(ops, list):
            self.add(path, f"must be an array of tick operations, not {kind_of(ops)}")
            return
        if ctx.depth > MAX_NESTING:
            self.add(path, f"operations are nested more than {MAX_NESTING} levels deep")
            return
        ctx = ctx._replace(depth=ctx.depth + 1)
        for i, op in enumerate(ops):
            self.op(op, f"{path}[{i}]", ctx)

    def op(self, op: Any, path: str, ctx: _Ctx) -> None:
        if is_bare_conditional(op):
            self.op_conditional(op, path, ctx)
            return
        if not isinstance(op, dict) or len(op) != 1:
            got = (f" (it has {len(op)} keys: {', '.join(sorted(map(str, op)))})"
                   if isinstance(op, dict) and op else f" (got {kind_of(op)})")
            self.add(path, "an operation must be an object with exactly one key, the "
                           "operation's name" + got)
            return
        (name, args), = op.items()
        if name not in SIGNATURES:
            self.add(_key(path, name), f"unknown operation {show_value(name)}; the operations are "
                                       f"{', '.join(OPERATIONS)}")
            return
        p = f"{path}.{name}"
        if not isinstance(args, dict):
            self.add(p, f"the arguments of {name} must be an object, not {kind_of(args)}")
            return
        required, optional = SIGNATURES[name]
        for arg in required:
            if arg not in args:
                self.add(_key(p, arg), f"{name} needs the argument {show_value(arg)}")
        for arg in args:
            if arg not in required and arg not in optional:
                self.add(_key(p, arg), f"unknown argument {show_value(arg)}; {name} takes "
                                       f"{_describe(name)}")
        getattr(self, "op_" + name)(args, p, ctx)

    def target(self, a: dict, p: str, ctx: _Ctx, op: str) -> tuple | None:
        """The target's segments when it is a valid target, else None."""
        if "target" not in a:
            return None
        text, q = a["target"], p + ".target"
        what = "the element" if ctx.troot == "item" else "the state"
        if not isinstance(text, str):
            self.add(q, f"target must be a path into {what} like \"status\" or "
                        f"\"profile.name\" (\"\" is {what} itself), not {kind_of(text)}")
            return None
        try:
            root, segs = parse_target(text, ctx.troot)
        except PathError as exc:
            self.add(q, str(exc))
            return None
        if root != ctx.troot:
            where = (" (operations in map.apply change the element)"
                     if ctx.troot == "item" else "")
            self.add(q, f"target must be a path into {what}, like \"status\" or "
                        f"\"profile.name\", not {show_value(text)}{where}")
            return None
        if not segs:
            if ctx.troot == "state" and op not in STATE_ROOT_OPS:
                self.add(q, f"{op} cannot target the state itself (\"\"); name a field, "
                            f"like \"items\"")
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
            self.where(a["where"], p + ".where", ctx._replace(item=True))

    def op_increment(self, a, p, ctx, op="increment"):
        self.target(a, p, ctx, op)
        if "by" in a:
            self.number_value(a["by"], p + ".by", ctx)

    def op_decrement(self, a, p, ctx):
        self.op_increment(a, p, ctx, "decrement")

    def op_filter(self, a, p, ctx):
        self.target(a, p, ctx, "filter")
        if "where" in a:
            self.where(a["where"], p + ".where", ctx._replace(item=True))

    def op_map(self, a, p, ctx):
        self.target(a, p, ctx, "map")
        if "apply" in a:
            self.ops(a["apply"], p + ".apply", ctx._replace(troot="item", item=True))

    def op_update_where(self, a, p, ctx):
        self.target(a, p, ctx, "update_where")
        inner = ctx._replace(item=True)
        if "where" in a:
            self.where(a["where"], p + ".where", inner)
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
            self.add(p + ".mode", f"mode must be 'merge' or 'replace', not {show_value(a['mode'])}")

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
        name = a.get("name", ABSENT)
        ok = isinstance(name, str) and LET_NAME_RE.fullmatch(name) and name not in ROOTS
        if name is not ABSENT and not ok:
            self.add(p + ".name", f"name must be an identifier ([A-Za-z_][A-Za-z0-9_]*) other "
                                  f"than {', '.join(ROOTS)}, not {show_value(name)}")
        if "value" in a:
            self.value(a["value"], p + ".value", ctx)
        if "in" in a:
            inner = ctx._replace(names=ctx.names | {name}) if ok else ctx
            self.ops(a["in"], p + ".in", inner)

    # values ---------------------------------------------------------------------------

    def read_path(self, value: Any, p: str, ctx: _Ctx) -> None:
        """A reference (a path string or {"$": path}): it parses and its root is in scope."""
        ref = reference(value)
        if ref is None:
            self.add(p, f"{show_value(value)} is not a path: it starts with $. (the event) or "
                        f"@ (the state)")
            return
        text = ref[0]
        try:
            root, _ = jsonpath.parse(text)
        except PathError as exc:
            self.add(p, f"{exc}; a literal string that starts with '$.' or '@.' is written "
                        f"{{\"literal\": ...}}")
            return
        if root in ("data", "metadata", "state", "key", "id", "type") or root in ctx.names:
            return
        if root == "item":
            if not ctx.item:
                self.add(p, f"{show_value(text)}: {unknown_root('item')}")
            return
        self.add(p, f"{show_value(text)}: {unknown_root(root)}")

    def value(self, v: Any, p: str, ctx: _Ctx, depth: int = 0) -> None:
        if depth > 64:
            self.add(p, "the value is nested more than 64 levels deep")
        elif isinstance(v, str):
            if jsonpath.is_path(v):
                self.read_path(v, p, ctx)
        elif _is_literal_wrapper(v):
            self.json(v["literal"], p + ".literal", depth + 1)
        elif _is_ref(v):
            self.read_path(v, p + ".$", ctx)
        elif _is_merge(v):
            items = v["$merge"]
            if not isinstance(items, list):
                self.add(p + ".$merge", "$merge takes an array of objects (or references)")
                return
            for i, x in enumerate(items):
                self.object_value(x, f"{p}.$merge[{i}]", ctx, "each item of $merge")
        elif isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    self.add(p, f"object keys must be strings, not {kind_of(k)}")
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
                    self.add(p, f"object keys must be strings, not {kind_of(k)}")
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
        if not isinstance(literal, dict) and reference(v) is None:
            self.add(p, f"{what} must be an object (or a path to one), not {kind_of(literal)}")

    def number_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if reference(v) is not None:
            self.read_path(v, p, ctx)
        elif not is_num(literal):
            self.add(p, f"must be a number (or a path to one), not {kind_of(literal)}")
        elif isinstance(literal, float) and not math.isfinite(literal):
            self.add(p, "numbers must be finite")

    def key_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if reference(v) is not None:
            self.read_path(v, p, ctx)
        elif not (isinstance(literal, str) or is_num(literal) and isinstance(literal, int)):
            self.add(p, f"key must be a string, an integer or a path to one, not "
                        f"{kind_of(literal)}")

    def index_value(self, v, p, ctx):
        literal = v["literal"] if _is_literal_wrapper(v) else v
        if reference(v) is not None:
            self.read_path(v, p, ctx)
        elif not (is_num(literal) and isinstance(literal, int) and literal >= 0):
            self.add(p, f"index must be a non-negative integer or a path to one, not "
                        f"{show_value(literal)}")

    def field(self, v, p):
        try:
            jsonpath.parse_relative(v)
        except PathError as exc:
            self.add(p, str(exc))

    # predicates -----------------------------------------------------------------------

    def where(self, where: Any, p: str, ctx: _Ctx) -> None:
        """A predicate, or the platform's object of fields the element must equal."""
        if isinstance(where, dict) and where and not (len(where) == 1 and next(iter(where))
                                                     in PREDICATES):
            for field, want in where.items():
                self.field(field, _key(p, field))
                self.value(want, _key(p, field), ctx)
            return
        self.pred(where, p, ctx)

    def pred(self, pred: Any, p: str, ctx: _Ctx) -> None:
        if ctx.depth > MAX_NESTING:
            self.add(p, f"predicates are nested more than {MAX_NESTING} levels deep")
            return
        ctx = ctx._replace(depth=ctx.depth + 1)
        if not isinstance(pred, dict) or len(pred) != 1:
            self.add(p, f"a predicate must be an object with exactly one key, one of "
                        f"{', '.join(PREDICATES)} (got {kind_of(pred)}"
                        + (f" with {len(pred)} keys)" if isinstance(pred, dict) else ")"))
            return
        (name, arg), = pred.items()
        q = _key(p, name)
        if name not in PREDICATES:
            self.add(q, f"unknown predicate {show_value(name)}; the predicates are "
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
            if reference(arg) is not None:
                self.read_path(arg, q, ctx)
            else:
                self.add(q, f"exists takes a path like @.owner or $.data.owner, not "
                            f"{show_value(arg)}")
        elif not isinstance(arg, list) or len(arg) != 2:
            self.add(q, f"{name} takes an array of two values, [left, right]")
        else:
            self.value(arg[0], q + "[0]", ctx)
            self.value(arg[1], q + "[1]", ctx)
            if name in ("in", "not_in"):
                right = arg[1]["literal"] if _is_literal_wrapper(arg[1]) else arg[1]
                if not isinstance(right, list) and reference(arg[1]) is None:
                    self.add(q + "[1]", f"{name} needs an array (or a path to one) on the "
                                        f"right, not {kind_of(right)}")
            elif name in ("gt", "gte", "lt", "lte"):
                for i, side in enumerate(arg):
                    literal = side["literal"] if _is_literal_wrapper(side) else side
                    if reference(side) is None and not (
                            is_num(literal) or isinstance(literal, str)):
                        self.add(f"{q}[{i}]", f"{name} compares numbers or strings, not "
                                              f"{kind_of(literal)}")


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
