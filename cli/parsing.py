"""Pure parsers of command-line values: `section.key=value` settings, durations, times."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class ParseError(ValueError):
    pass


def typed_value(text: str, current=None):
    """The typed value of a command-line string: JSON when it parses (`15` → 15, `true`,
    `0.5`, `null`, `[1,2]`, `"quoted"`), else the text itself. When the setting's current
    value is a string, the text is kept as written (so `name=123` stays "123")."""
    if isinstance(current, str):
        return text
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on") and isinstance(current, bool):
        return True
    if lowered in ("false", "no", "off") and isinstance(current, bool):
        return False
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignment(text: str, current_config: dict | None = None) -> tuple[list[str], object]:
    """`section.key=value` → (["section", "key"], typed value). Raises ParseError."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise ParseError(f"{text!r}: expected section.key=value")
    if not _KEY.match(key):
        raise ParseError(f"{key!r}: expected a dotted name such as progressive_trust.new_tier_limit")
    path = key.split(".")
    current = current_config
    for part in path:
        current = current.get(part) if isinstance(current, dict) else None
    return path, typed_value(raw, current)


def build_patch(assignments: list[str], current_config: dict | None = None) -> dict:
    """Several assignments as one nested PATCH body."""
    body: dict = {}
    for text in assignments:
        path, value = parse_assignment(text, current_config)
        node = body
        for part in path[:-1]:
            existing = node.setdefault(part, {})
            if not isinstance(existing, dict):
                raise ParseError(f"{'.'.join(path)}: {part} is set to a value and used as a section")
            node = existing
        if isinstance(node.get(path[-1]), dict):
            raise ParseError(f"{'.'.join(path)}: is used as a section and set to a value")
        node[path[-1]] = value
    return body


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `2d`, `1w` → seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ParseError(f"{text!r}: expected a duration such as 90, 90s, 15m, 1h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str, now: float | None = None) -> int:
    """A point in time as unix seconds: unix seconds (`1767225600`), ISO 8601
    (`2026-01-01`, `2026-01-01T12:00:00Z`), or a duration ago (`1h`, `7d`)."""
    text = str(text).strip()
    if re.fullmatch(r"\d{9,}", text):
        return int(text)
    if _DURATION.match(text) and not re.fullmatch(r"\d+(\.\d+)?", text):
        return int((time.time() if now is None else now) - parse_duration(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"{text!r}: expected unix seconds, an ISO 8601 time or a duration "
                         f"ago such as 1h") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def iso_time(text: str, now: float | None = None) -> str:
    """A point in time (as parse_time reads it; a duration means from now on) as ISO 8601."""
    text = str(text).strip()
    if _DURATION.match(text) and not re.fullmatch(r"\d+(\.\d+)?", text):
        stamp = (time.time() if now is None else now) + parse_duration(text)
    else:
        stamp = parse_time(text, now)
    return datetime.fromtimestamp(int(stamp), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ref(text: str, what: str = "actor") -> dict:
    """`type:id` → {"type", "id"} (an id may itself hold colons: tagged UUIDs)."""
    kind, sep, ident = str(text).partition(":")
    if not sep or not kind or not ident:
        raise ParseError(f"{text!r}: expected {what} as type:id, e.g. user:550e8400-...")
    return {"type": kind, "id": ident}
