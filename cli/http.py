"""A small JSON-over-HTTP client on urllib (no dependency beyond the standard library)."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from cli import __version__

USER_AGENT = f"adminctl/{__version__}"
TIMEOUT = 60.0


class ApiError(Exception):
    """An error answer of the API: admin surfaces answer `{"error": CODE, "message", "code":
    4xxx}`, the data plane `{"ok": false, "error": message, "code": CODE}`."""

    def __init__(self, status: int, body, text: str = ""):
        self.status = status
        self.body = body
        self.text = text
        super().__init__(self.describe())

    @property
    def name(self) -> str:
        """The error's name (e.g. INSTANCE_NOT_FOUND), whichever surface answered."""
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("ok") is False:
            return str(body.get("code") or f"HTTP_{self.status}")
        return str(body.get("error") or f"HTTP_{self.status}")

    @property
    def number(self):
        """The numeric code (4xxx) of an admin error; None on the data plane."""
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("code") if isinstance(body.get("code"), int) else None

    @property
    def message(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("ok") is False:
            return str(body.get("error") or "")
        return str(body.get("message") or self.text[:300] or "")

    def describe(self) -> str:
        code = f"{self.name} ({self.number})" if self.number is not None else self.name
        out = f"{code}: {self.message} [HTTP {self.status}]"
        body = self.body if isinstance(self.body, dict) else {}
        for detail in body.get("details") or []:
            if isinstance(detail, dict) and str(detail.get("message")) not in self.message:
                out += f"\n  {detail.get('path', '')}: {detail.get('message', '')}"
        if body.get("error_id"):
            out += f"\n  error_id: {body['error_id']}"
        if body.get("retry_after") is not None:
            out += f"\n  retry after {body['retry_after']} s"
        return out


class TransportError(Exception):
    """The server could not be reached (refused, timed out, bad URL)."""


@dataclass
class Response:
    status: int
    headers: dict
    text: str
    content_type: str = ""
    body: object = field(default=None)

    @property
    def is_json(self) -> bool:
        return "json" in self.content_type


def _decode(raw: bytes, content_type: str):
    text = raw.decode("utf-8", errors="replace")
    body = None
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    return text, body


@dataclass
class Client:
    url: str
    token: str | None = None
    timeout: float = TIMEOUT

    def request(self, method: str, path: str, *, query: dict | None = None, body=None,
                data: bytes | None = None, content_type: str | None = None,
                headers: dict | None = None, token: str | None = None,
                ok_statuses: tuple[int, ...] = ()) -> Response:
        """Send one request; a 4xx/5xx answer raises ApiError unless its status is in
        `ok_statuses`. `query` values that are None are left out."""
        url = self.url.rstrip("/") + path
        if query:
            pairs = [(k, v) for k, v in query.items() if v is not None]
            pairs = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in pairs]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        hdrs = {"User-Agent": USER_AGENT, "Accept": "application/json, */*"}
        if body is not None:
            data = json.dumps(body).encode()
            content_type = "application/json"
        if content_type:
            hdrs["Content-Type"] = content_type
        bearer = token if token is not None else self.token
        if bearer:
            hdrs["Authorization"] = f"Bearer {bearer}"
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                status, raw = answer.status, answer.read()
                got = dict(answer.headers.items())
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers.items())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TransportError(f"cannot reach {self.url}: {reason}") from None
        ctype = next((v for k, v in got.items() if k.lower() == "content-type"), "")
        text, parsed = _decode(raw, ctype)
        response = Response(status, got, text, ctype, parsed)
        if status >= 400 and status not in ok_statuses:
            raise ApiError(status, parsed, text)
        return response

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw).body

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, body=body if body is not None else {}, **kw).body

    def put(self, path: str, body=None, **kw):
        return self.request("PUT", path, body=body, **kw).body

    def patch(self, path: str, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw).body

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw).body


def put_presigned(url: str, data: bytes, headers: dict, timeout: float = TIMEOUT) -> int:
    """PUT a file to a presigned S3 URL with the headers the API named."""
    req = urllib.request.Request(url, data=data, method="PUT",
                                 headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        raise ApiError(exc.code, None, exc.read().decode("utf-8", "replace")) from None
    except (urllib.error.URLError, OSError) as exc:
        raise TransportError(f"cannot upload to {url.split('?')[0]}: "
                             f"{getattr(exc, 'reason', exc)}") from None
