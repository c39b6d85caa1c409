"""The operator dashboard (dashboard/, a single-page app) served from the API's own origin.

`/dashboard` (and `/dashboard/`) answers index.html, `/dashboard/assets/...` the built files, and any other
path under it index.html again (the app routes on the client). The files come from the
folder named by DASHBOARD_DIR (`make run` sets dashboard/dist) or, in a deployed stage,
from the "dashboard" bucket (chalicelib/store/buckets.py), where the build is uploaded.

These routes are deliberately plain Chalice routes, not `@route` declarations: they are
static files, not part of the API, so they stay out of /openapi.json and its tests.
Every answer carries a strict Content-Security-Policy (scripts and styles from this
origin only, no inline script, no framing) and nosniff; index.html is never cached (the
page holds a token in session storage), content-hashed assets are cached for a year."""
from __future__ import annotations

import posixpath
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.core import settings

bp = Blueprint(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'; object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8",
    ".map": "application/json", ".png": "image/png", ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
TEXT = {".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map"}
NO_STORE = "no-store"
IMMUTABLE = "public, max-age=31536000, immutable"


def _answer(status: int, body, content_type: str, cache: str, extra: dict | None = None):
    headers = {"Content-Type": content_type, "Cache-Control": cache, **SECURITY_HEADERS}
    headers.update(extra or {})
    return Response(body=body, status_code=status, headers=headers)


def _not_found():
    return _answer(404, "Not found", "text/plain; charset=utf-8", NO_STORE)


def _clean(path: str) -> str | None:
    """A relative file path inside the build, or None for anything that leaves it."""
    parts = [p for p in path.split("/") if p]
    if any(p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        return None
    cleaned = posixpath.normpath("/".join(parts)) if parts else ""
    return None if cleaned.startswith("..") else cleaned


def _read(rel: str) -> bytes | None:
    s = settings.get()
    if s.dashboard_dir:
        root = Path(s.dashboard_dir).resolve()
        target = (root / rel).resolve()
        if root not in target.parents or not target.is_file():
            return None
        return target.read_bytes()
    from botocore.exceptions import ClientError

    from chalicelib.store import aws
    from chalicelib.store.buckets import bucket_name
    try:
        got = aws.client("s3").get_object(Bucket=bucket_name("dashboard"), Key=rel)
    except ClientError:
        return None
    return got["Body"].read()


def _serve(rel: str):
    ext = posixpath.splitext(rel)[1].lower()
    if rel and ext and rel != "index.html":
        data = _read(rel)
        if data is None:
            return _not_found()
        body = data.decode("utf-8") if ext in TEXT else data
        cache = IMMUTABLE if rel.startswith("assets/") else NO_STORE
        return _answer(200, body, TYPES.get(ext, "application/octet-stream"), cache)
    data = _read("index.html")  # the app itself, for "/" and every client-side route
    if data is None:
        return _answer(503, "The dashboard is not built: run `make run` (it builds dashboard/)",
                       "text/plain; charset=utf-8", NO_STORE)
    return _answer(200, data.decode("utf-8"), TYPES[".html"], NO_STORE)


@bp.route("/dashboard", methods=["GET"])
def dashboard_index():
    """Also `/dashboard/`: API Gateway (and chalice local) drop a trailing slash."""
    return _serve("")


@bp.route("/dashboard/{proxy+}", methods=["GET"])
def dashboard_file():
    rel = _clean(bp.current_request.uri_params.get("proxy", ""))
    return _not_found() if rel is None else _serve(rel)
