"""API Gateway refuses two different variable names at one level under one parent
(`/a/{x}` beside `/a/{y}`); chalice local does not notice, so check it here."""
import os


def test_sibling_path_variables_share_one_name():
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    import app  # noqa: F401
    from chalicelib.http.declarations import ROUTES
    seen: dict[str, str] = {}
    clashes = []
    for spec in ROUTES:
        parts = spec.path.strip("/").split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                parent = "/" + "/".join(parts[:depth])
                if seen.setdefault(parent, part) != part:
                    clashes.append(f"{parent}: {seen[parent]} vs {part} ({spec.path})")
    assert not clashes, clashes
