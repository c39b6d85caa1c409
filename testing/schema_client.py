"""A `requests` transport into `chalice.test.Client`, so that schemathesis (which speaks
`requests`) can drive the app in-process, with the answers `chalice local` and API Gateway
give where the app itself never runs: 405 with `Allow` for a method no route declares."""
import contextlib
import datetime
import io
import urllib.parse

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

BASE_URL = "http://app.local"


class ChaliceAdapter(requests.adapters.BaseAdapter):
    def __init__(self, client):
        super().__init__()
        self.client = client

    def send(self, request, **_kwargs):
        from chalicelib.http.declarations import ROUTES
        url = urllib.parse.urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        matches = [r for r in ROUTES if r.pattern.match(url.path)]
        literal = min((len(r.path_params) for r in matches), default=0)
        allowed = sorted({r.method for r in matches if len(r.path_params) == literal})
        if allowed and request.method not in allowed:
            return _response(request, 405, {"Allow": ", ".join(allowed),
                                            "Content-Type": "application/json"},
                             b'{"Code":"MethodNotAllowedError","Message":"Unsupported method"}')
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        raw = self.client.http.request(request.method, path, headers=dict(request.headers),
                                       body=body)
        content = raw.body if isinstance(raw.body, bytes) else (raw.body or "").encode()
        return _response(request, raw.status_code, raw.headers, content)

    def close(self):
        pass


def _response(request, status: int, headers, content: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.headers = CaseInsensitiveDict(headers)
    answer._content = content
    answer.url = request.url
    answer.request = request
    answer.encoding = "utf-8"
    answer.reason = "OK" if status < 400 else "Error"
    answer.elapsed = datetime.timedelta(0)
    answer.raw = urllib3.HTTPResponse(body=io.BytesIO(content),
                                      headers=urllib3.HTTPHeaderDict(dict(headers)),
                                      status=status, version=11, preload_content=False)
    return answer


@contextlib.contextmanager
def routed_to(client):
    """Every requests.Session made meanwhile sends BASE_URL into `client`: schemathesis
    makes sessions of its own for its auth probes."""
    adapter = ChaliceAdapter(client)
    original = requests.Session.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.mount(BASE_URL, adapter)

    requests.Session.__init__ = init
    try:
        yield requests.Session()
    finally:
        requests.Session.__init__ = original
