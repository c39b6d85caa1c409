"""One HTTP POST of a delivery, with the standard library only, to a checked address.

The host is resolved once; every address it resolves to is checked
(chalicelib.domain.webhooks.address_refusal) and the connection is made to a checked
address, never by name again, so a DNS answer that changes between the check and the
connect cannot lead the request elsewhere. For https the TLS handshake still names the
host (SNI) and the certificate is verified against it. No proxy is used, no redirect is
followed; only the status line and headers are waited for, and at most MAX_BODY bytes
of the answer are read."""
from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain import webhooks

MAX_BODY = 4096


@dataclass
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and \
            200 <= self.status_code < 300


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection, in the resolver's order."""
    seen: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         proto=socket.IPPROTO_TCP):
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in seen:
            seen.append(sockaddr[0])
    return seen


def _connect(addresses: list[str], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of `addresses` that answers. The socket connects to
    the numeric address itself: no name service is asked again."""
    last: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((address, port) if family == socket.AF_INET else (address, port, 0, 0))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTPConnection to `host` (its Host header) over a socket to checked addresses."""

    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self):
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPSConnection whose socket goes to checked addresses; SNI and the certificate
    check use the host name."""

    def __init__(self, host, port, addresses, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self._addresses = addresses

    def connect(self):
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


_tls = None


def _tls_context() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def post(url: str, raw: bytes, headers: dict, timeout: float,
         allow_loopback: bool = False) -> Outcome:
    """POST `raw` to `url`; the outcome (never raises for what the network does)."""
    started = time.monotonic()

    def done(status=None, error=None, retry_after=None) -> Outcome:
        return Outcome(status, int(round((time.monotonic() - started) * 1000)), error,
                       retry_after)

    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        return done(error="the URL's port is not valid")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        return done(error=f"could not resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    if not addresses:
        return done(error=f"{host} resolves to no address")
    for address in addresses:
        refusal = webhooks.address_refusal(address, allow_loopback)
        if refusal:
            return done(error=f"refused: {host} resolves to {refusal}")
    conn = (_PinnedHTTPS(host, port, addresses, timeout, _tls_context()) if https
            else _PinnedHTTP(host, port, addresses, timeout))
    try:
        conn.request("POST", path, body=raw, headers=headers)
        response = conn.getresponse()
        status = response.status
        retry_after = response.getheader("Retry-After")
        reason = response.reason
        try:
            response.read(MAX_BODY)
        except (OSError, http.client.HTTPException):
            pass
    except socket.timeout:
        return done(error=f"no answer within {int(timeout * 1000)} ms")
    except ssl.SSLCertVerificationError as exc:
        return done(error=f"TLS certificate refused: {exc.verify_message or exc.reason}")
    except ssl.SSLError as exc:
        return done(error=f"TLS failed: {exc.reason or exc}")
    except http.client.HTTPException as exc:
        return done(error=f"not an HTTP answer: {type(exc).__name__}")
    except OSError as exc:
        return done(error=f"connection failed: {exc.strerror or exc}")
    finally:
        conn.close()
    outcome = done(status, None, retry_after)
    if outcome.duration_ms > timeout * 1000:
        outcome.error = f"answered after {outcome.duration_ms} ms, beyond the timeout of " \
                        f"{int(timeout * 1000)} ms"
    elif not 200 <= status < 300:
        outcome.error = f"HTTP {status} {reason}".strip() + (
            " (redirects are not followed)" if 300 <= status < 400 else "")
    return outcome
