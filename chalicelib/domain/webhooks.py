"""Listener deliveries, the pure part: secrets, the body, both signatures, the retry
schedule, Retry-After, which addresses a delivery may reach, and listener matching.

No I/O: chalicelib/platform/webhooks does the sending, storing and queueing.

Secrets are written as Standard Webhooks writes them: ``whsec_`` + base64 of 24 to 64
random bytes; the HMAC key is those bytes. Each attempt is signed twice over the exact
body bytes sent, at the attempt's unix time ``t`` (whole seconds):

- ``X-J17-Signature: t=<t>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>``
- ``webhook-id: <delivery id>``, ``webhook-timestamp: <t>``,
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "<delivery id>.<t>.<body>")>``
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import ipaddress
import json
import math
import re

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# what the stored spec (and every answer that shows it) carries instead of the secret
REDACTED = "whsec_redacted"
SECRET_REF_PATTERN = r"^lsk_[0-9]{13}[0-9a-f]{12}$"
_SECRET_REF = re.compile(SECRET_REF_PATTERN)

SIGNATURE_HEADER = "X-J17-Signature"
TOLERANCE_SECONDS = 300          # what a receiver should accept between t and its clock

# seconds after a failed attempt before the next: attempt 2 waits DELAYS[0], ...
DELAYS = (5, 25, 125)
MAX_ATTEMPTS = 3
RETRY_AFTER_CAP = 3600           # a receiver's Retry-After is honoured up to an hour
RETRY_AFTER_STATUSES = (429, 503)


class SecretError(ValueError):
    """A secret that is not whsec_ + base64 of 24-64 bytes. The message never holds it."""


# --- secrets ---------------------------------------------------------------------------

def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; SecretError (without the value) otherwise."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise SecretError("must be 'whsec_' followed by base64 (Standard Webhooks form)")
    text = secret[len(SECRET_PREFIX):]
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text or ""):
        raise SecretError("must be 'whsec_' followed by standard base64 (A-Z a-z 0-9 + /, "
                          "= padding)")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("is not valid base64 after 'whsec_'") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise SecretError(f"must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes, "
                          f"not {len(key)}")
    return key


def new_secret(size: int = 32) -> str:
    """A fresh secret (what an operator may put in a spec)."""
    import secrets
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(size)).decode()


def is_redacted(value) -> bool:
    return value == REDACTED


def is_secret_ref(value) -> bool:
    return isinstance(value, str) and bool(_SECRET_REF.match(value))


def redacted_spec(spec):
    """`spec` with every listener secret that is not already the placeholder replaced by
    it (a copy; the input is not changed). Stored specs never hold a secret; this guards
    what serves them anyway."""
    if not isinstance(spec, dict) or not isinstance(spec.get("listeners"), list):
        return spec
    if all(not isinstance(item, dict) or item.get("secret", REDACTED) == REDACTED
           for item in spec["listeners"]):
        return spec
    listeners = [{**item, "secret": REDACTED} if isinstance(item, dict) and "secret" in item
                 else item for item in spec["listeners"]]
    return {**spec, "listeners": listeners}


# --- matching --------------------------------------------------------------------------

def subscriptions(listener: dict) -> list[tuple[str, str]]:
    """(aggregate_type, event_type or "*") of each entry of a listener's ``events``: the
    object form ``{"aggregate_type", "event_type"}`` and the older ``"TYPE.EVENT"``."""
    out = []
    for ref in listener.get("events") or ():
        if isinstance(ref, dict):
            out.append((ref.get("aggregate_type"), ref.get("event_type")))
        elif isinstance(ref, str) and ref.count(".") == 1:
            agg, evt = ref.split(".")
            out.append((agg, evt))
    return out


def matches(listener: dict, agg_type: str, event_type: str) -> bool:
    return any(agg == agg_type and evt in ("*", event_type)
               for agg, evt in subscriptions(listener))


def listeners_for(spec: dict, agg_type: str, event_type: str) -> list[dict]:
    """The spec's listeners an event of this type goes to, in spec order."""
    listeners = spec.get("listeners") if isinstance(spec, dict) else None
    if not listeners:
        return []
    return [item for item in listeners if isinstance(item, dict)
            and matches(item, agg_type, event_type)]


def listener_named(spec: dict, name: str) -> dict | None:
    for item in (spec or {}).get("listeners") or ():
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


# --- the body and its signatures ---------------------------------------------------------

def body(delivery_id: str, listener: str, instance_id: str, environment: str,
         agg_type: str, agg_id: str, event_type: str, position: int, data, metadata,
         timestamp: float) -> bytes:
    """The JSON body of a delivery (compact, keys in this order); `timestamp` is the
    event's, in unix seconds, written as ISO 8601 with milliseconds."""
    return json.dumps({
        "id": delivery_id, "listener": listener, "instance_id": instance_id,
        "environment": environment, "aggregate_type": agg_type, "aggregate_id": agg_id,
        "event_type": event_type, "stream_id": f"{agg_type}/{agg_id}@{position}",
        "position": position, "data": data, "metadata": metadata,
        "timestamp": iso_ms(timestamp),
    }, separators=(",", ":"), ensure_ascii=False).encode()


def iso_ms(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with milliseconds."""
    if ts is None:
        return None
    import time
    ms = int(round(float(ts) * 1000))
    seconds, ms = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def j17_signature(key: bytes, timestamp: int, raw: bytes) -> str:
    mac = hmac.new(key, str(int(timestamp)).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"t={int(timestamp)},v1={mac}"


def standard_signature(key: bytes, delivery_id: str, timestamp: int, raw: bytes) -> str:
    mac = hmac.new(key, f"{delivery_id}.{int(timestamp)}.".encode() + raw,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(key: bytes, delivery_id: str, timestamp: int, raw: bytes) -> dict:
    """Every header a delivery attempt carries beyond the transport's own."""
    return {"Content-Type": "application/json",
            SIGNATURE_HEADER: j17_signature(key, timestamp, raw),
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": standard_signature(key, delivery_id, timestamp, raw),
            "User-Agent": "j17-webhooks/1"}


def verify_j17(secret: str, header: str, raw: bytes, now: float,
               tolerance: int = TOLERANCE_SECONDS) -> bool:
    """The receiver's check, as the README writes it: split the header on ',' into
    t= and v1= parts (several v1 may appear while a secret rotates); refuse a t more than
    `tolerance` seconds from `now`; recompute hex HMAC-SHA256(key, "<t>.<raw body>") and
    compare in constant time with each v1."""
    try:
        key = secret_key(secret)
    except SecretError:
        return False
    if not isinstance(header, str):
        return False
    timestamp, macs = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            macs.append(value)
    if timestamp is None or not macs or abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(key, str(timestamp).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, mac) for mac in macs)


# --- the schedule ------------------------------------------------------------------------

def retry_delay(attempt: int, scale: float = 1.0) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based) of a round: DELAYS[0]
    after the first, ... (the last repeats), times `scale`."""
    base = DELAYS[min(attempt, len(DELAYS)) - 1]
    return base * scale


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP date), capped at
    RETRY_AFTER_CAP; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(int(value[:12]))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    return max(0.0, min(float(RETRY_AFTER_CAP), seconds))


def whole_delay(seconds: float) -> int:
    """SQS DelaySeconds for a wait: whole seconds, rounded up; 0 under a second."""
    if seconds < 1:
        return 0
    return min(900, int(math.ceil(seconds - 1e-9)))


# --- where a delivery may go ---------------------------------------------------------------

def address_refusal(text: str, allow_loopback: bool = False) -> str | None:
    """Why a delivery must not connect to this IP address (None: it may): private,
    loopback (unless allowed), link-local, multicast, reserved, unspecified, or any other
    address that is not globally routable; IPv4 inside IPv6 is judged as IPv4."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return f"{text!r} is not an IP address"
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
        elif ip in ipaddress.ip_network("64:ff9b::/96"):       # NAT64
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if ip.is_loopback:
        return None if allow_loopback else (f"{ip} is a loopback address (allowed only "
                                            "where WEBHOOK_ALLOW_LOOPBACK is on)")
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_reserved:
        return f"{ip} is a reserved address"
    if ip.is_private:
        return f"{ip} is a private address"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


def literal_ip(host: str):
    """The host of a URL as an IP address, or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
