"""Regenerate the README's route, error and metric tables from their one source each:
`python -m scripts.gen_docs` (writes) or `--check` (exit 1 when stale)."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_CREDENTIAL = {"admin": "admin JWT", "node": "X-Node-Secret", "api_key": "API key", "public": "none"}


def route_table() -> str:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    import app  # noqa: F401  (registers every route)
    from chalicelib.http.declarations import ROUTES

    rows = ["| method | path | credential | permission / scope | audit action |",
            "|---|---|---|---|---|"]
    for r in sorted(ROUTES, key=lambda r: (r.path, r.method)):
        rows.append(f"| {r.method} | `{r.path}` | {_CREDENTIAL[r.auth]} | "
                    f"{r.permission or r.scope or ''} | {r.audit or ''} |")
    return "\n".join(rows)


def error_table() -> str:
    from chalicelib.core.errors import KINDS
    rows = ["| code | error | HTTP | meaning |", "|---|---|---|---|"]
    for k in sorted(KINDS.values(), key=lambda k: k.code):
        rows.append(f"| {k.code} | `{k.name}` | {k.status} | {k.message} |")
    return "\n".join(rows)


def metric_table() -> str:
    from chalicelib.chat.metrics.service import METRICS
    rows = ["| metric | kind | source | meaning |", "|---|---|---|---|"]
    for name, m in METRICS.items():
        rows.append(f"| `{name}` | {m.kind} | {m.source} | {m.help} |")
    return "\n".join(rows)


def render(text: str) -> str:
    for name, table in (("routes", route_table()), ("errors", error_table()),
                        ("metrics", metric_table())):
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the {name} markers")
        text = pattern.sub(lambda m: m.group(1) + table + m.group(2), text)
    return text


def main() -> int:
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            print("README.md tables are stale: run python -m scripts.gen_docs", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
