"""The rules shared by every part of the spec validator: the name pattern, the duration
syntax and limits, and the helpers for building JSON paths of keys (``key_path``),
naming JSON types and showing values in messages, parsing durations
(``parse_duration``), and moving paths reported by the tick validator under a spec path
or finding the paths a tick value reads."""
from __future__ import annotations

import re
from typing import Any

from chalicelib.domain import jsonpath

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NAME_RULE = "1-64 characters: lowercase letters, digits and underscores, starting with a letter"

DURATION_RE = re.compile(r"^([0-9]{1,9})([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 365 * 86400

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Problem = dict[str, str]


# --- small helpers ------------------------------------------------------------------------

def key_path(path: str, key: Any) -> str:
    """``path.key``, or ``path['key']`` when the key is not a plain identifier."""
    text = key if isinstance(key, str) else str(key)
    if _IDENT_RE.match(text):
        return f"{path}.{text}"
    return path + "['" + text.replace("\\", "\\\\").replace("'", "\\'") + "']"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def show_value(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listing_of(names) -> str:
    names = sorted(str(n) for n in names)
    return ", ".join(names) if names else "none"


def parse_duration(text: Any) -> int | None:
    """Seconds in ``"24h"``-style text (one integer and one unit of s, m, h, d), or None."""
    if not isinstance(text, str):
        return None
    match = DURATION_RE.match(text)
    if not match:
        return None
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def human_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def reroot(sub: Any, base: str) -> str:
    """Put a path reported relative to a handler (``$[0].x``) under ``base``."""
    sub = sub if isinstance(sub, str) else str(sub)
    if sub.startswith("$"):
        sub = sub[1:]
    if sub and not sub.startswith((".", "[")):
        sub = "." + sub
    return base + sub


def paths_in(value: Any, path: str, depth: int = 0):
    """(path, text) of every JSONPath a tick value reads ({"literal": x} is not read)."""
    if depth > 64:
        return
    if jsonpath.is_path(value):
        yield path, value
    elif isinstance(value, dict) and not (len(value) == 1 and "literal" in value):
        for key, item in value.items():
            yield from paths_in(item, key_path(path, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths_in(item, f"{path}[{i}]", depth + 1)
