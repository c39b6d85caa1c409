"""The small JSONPath dialect of tick handlers: parse, read, render. Pure, standard library.

A path is ``$`` then a root step and any number of further steps:

    .name        name of letters, digits, ``_`` and ``-``   ``$.state.counts.open``
    [n]          array index, a non-negative integer        ``$.data.items[0].sku``
                 (at most 18 digits, no leading zeros)
    ['name']     any field name (``\\'`` and ``\\\\`` escape)  ``$.data['a b']``

The root step names the document (``data``, ``metadata``, ``state``, ``item`` or a
``let`` binding); it is a ``.name`` or ``['name']`` step, never an index. A *relative*
path (the field names of ``match`` and ``update_where.set``) has the same steps without
``$`` and starts with a bare name: ``id``, ``address.city``, ``lines[0].qty``.

Reading is lenient: a step that does not exist, or that meets the wrong kind of value
(a name on an array, an index on an object, anything on a scalar), makes the whole path
MISSING. Writing lives in ``ticks`` because it needs the operation's error context.
"""

from __future__ import annotations

import re
from functools import lru_cache

Segment = str | int
_NAME = r"[A-Za-z0-9_-]+"
_STEP_RE = re.compile(rf"\.({_NAME})|\[(0|[1-9][0-9]{{0,17}})\]|\['((?:[^'\\]|\\.)*)'\]", re.S)
_NAME_RE = re.compile(_NAME)
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)

SYNTAX = ("steps .name (letters, digits, '_', '-'), [0] (an index) or ['any name']")


class PathError(ValueError):
    """Not a path of this dialect; the message says why."""


class _Missing:
    """What a read of an absent path returns (distinct from a present ``null``)."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):  # copy/pickle keep the singleton
        return "MISSING"


MISSING = _Missing()


def reference(value) -> tuple[str, bool] | None:
    """``(path, optional)`` when a handler value is a path rather than a literal, else None.

    ``$.…`` / ``$[…]`` read the event (``$.data``, ``$.metadata``, ``$.key``, ``$.type``) or a
    ``let`` binding; ``@``, ``@.…``, ``@[…]`` read the current state (``$.state…``); a final
    ``?`` makes the path optional (``$.data.nickname?``: missing skips the operation)."""
    if type(value) is not str or not value or value[0] not in "$@":
        return None
    return _reference(value)


@lru_cache(maxsize=4096)
def _reference(value: str) -> tuple[str, bool] | None:
    text, optional = (value[:-1], True) if value.endswith("?") and len(value) > 2 else (value, False)
    if text[:2] in ("$.", "$["):
        return text, optional
    if text == "@":
        return "$.state", optional
    if text[:2] in ("@.", "@["):
        return "$.state" + text[1:], optional
    return None


def is_path(value) -> bool:
    """Whether a handler value is a path (see ``reference``) rather than a literal."""
    return reference(value) is not None


def _steps(text: str, pos: int, whole: str) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    while pos < len(text):
        m = _STEP_RE.match(text, pos)
        if not m:
            raise PathError(f"{whole!r} is not a supported path: {SYNTAX}; error at "
                            f"character {pos}")
        name, index, quoted = m.groups()
        if name is not None:
            segments.append(name)
        elif index is not None:
            segments.append(int(index))
        else:
            segments.append(_UNESCAPE_RE.sub(r"\1", quoted))
        pos = m.end()
    return tuple(segments)


@lru_cache(maxsize=8192)
def _parse(path: str) -> tuple[str, tuple[Segment, ...]]:
    if not path.startswith("$") or len(path) == 1:
        raise PathError(f"{path!r} is not a path: it must start with '$.' and name a root")
    segments = _steps(path, 1, path)
    if not isinstance(segments[0], str):
        raise PathError(f"{path!r} must start with a name (like $.data), not an index")
    return segments[0], segments[1:]


def parse(path) -> tuple[str, tuple[Segment, ...]]:
    """``"$.state.items[0]"`` -> ``("state", ("items", 0))``; PathError if not a path."""
    if not isinstance(path, str):
        raise PathError(f"a path must be a string, not {type(path).__name__}")
    return _parse(path)


@lru_cache(maxsize=4096)
def _parse_relative(path: str) -> tuple[Segment, ...]:
    m = _NAME_RE.match(path)
    if not m:
        raise PathError(f"{path!r} is not a field path: it must start with a name "
                        f"(letters, digits, '_', '-'), like 'id' or 'address.city'")
    return (m.group(0),) + _steps(path, m.end(), path)


def parse_relative(path) -> tuple[Segment, ...]:
    """``"lines[0].qty"`` -> ``("lines", 0, "qty")``; PathError if not a field path."""
    if not isinstance(path, str):
        raise PathError(f"a field path must be a string, not {type(path).__name__}")
    return _parse_relative(path)


def get(base, segments) -> object:
    """The value at ``segments`` below ``base``, or MISSING."""
    cur = base
    for seg in segments:
        if type(seg) is str:
            if not isinstance(cur, dict):
                return MISSING
            cur = cur.get(seg, MISSING)
            if cur is MISSING:
                return MISSING
        elif isinstance(cur, list) and seg < len(cur):
            cur = cur[seg]
        else:
            return MISSING
    return cur


def step_text(seg: Segment) -> str:
    if type(seg) is int:
        return f"[{seg}]"
    if _NAME_RE.fullmatch(seg):
        return f".{seg}"
    return "['" + seg.replace("\\", "\\\\").replace("'", "\\'") + "']"


def render(root: str, segments=()) -> str:
    """The inverse of parse: ``("state", ("items", 0))`` -> ``"$.state.items[0]"``."""
    return "$" + step_text(root) + "".join(step_text(s) for s in segments)
