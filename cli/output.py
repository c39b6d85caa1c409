"""Human output (aligned tables, key/value listings) and the raw JSON for scripts."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click

MISSING = "-"


def cell(value, width: int | None = None) -> str:
    """One table cell: None as '-', lists and objects as compact JSON, cut to `width`."""
    if value is None:
        text = MISSING
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = str(value)
    text = text.replace("\n", " ")
    if width and len(text) > width:
        text = text[: max(width - 1, 1)] + "…"
    return text


def table(rows: list[dict], columns: list[str] | None = None, *, headers: list[str] | None = None,
          max_width: int = 60) -> str:
    """Rows as an aligned table: a header line of the column names (upper case), then one
    line per row, columns separated by two spaces, the last column not padded. Columns
    default to the keys of the first row."""
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if not columns:
        return ""
    names = headers or [c.upper() for c in columns]
    lines = [[cell(_pick(row, c), max_width) for c in columns] for row in rows]
    widths = [max([len(n)] + [len(line[i]) for line in lines]) for i, n in enumerate(names)]

    def fmt(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    return "\n".join([fmt(names)] + [fmt(line) for line in lines])


def _pick(row: dict, column: str):
    """A column may name a nested field with dots (`progress.percent`)."""
    value = row
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    """Nested objects as (dotted key, value) pairs; lists stay whole."""
    out: list[tuple[str, object]] = []
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.extend(flatten(value, name))
            else:
                out.append((name, value))
    else:
        out.append((prefix or "value", obj))
    return out


def keyvalues(obj: dict, max_width: int = 160) -> str:
    pairs = flatten(obj)
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {cell(v, max_width)}".rstrip() for k, v in pairs)


def when(value) -> str:
    """A unix time as ISO 8601 UTC (what the admin API's audit and metrics answer)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return cell(value)


def dump_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)


def echo_json(value) -> None:
    click.echo(dump_json(value))
