"""Checks of the spec's event consumers outside aggregates: ``listeners`` (webhook
deliveries: unique names, an https URL without credentials, subscriptions to declared
event types, a ``whsec_`` signing secret) and ``projections`` (declared source aggregate
types and a tick handler)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain import webhooks
from chalicelib.domain.specs.checks import SpecChecks
from chalicelib.domain.specs.rules import (
    NAME_RE,
    NAME_RULE,
    json_type,
    key_path,
    listing_of,
    show_value,
)

LISTENER_KEYS = ("name", "url", "events", "secret", "secret_ref", "timeout_ms")
SUBSCRIPTION_KEYS = ("aggregate_type", "event_type")
PROJECTION_KEYS = ("source", "handler")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_LISTENERS = 25          # a deploy seals each new secret in its one transaction
MAX_URL_LENGTH = 2048
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 100, 30000


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return f"url must be an https:// URL, not {show_value(url)}"
    if len(url) > MAX_URL_LENGTH:
        return f"url must be at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        return f"url {show_value(url)} is not a valid URL: {exc}"
    if any(c.isspace() for c in url):
        return f"url {show_value(url)} must not contain whitespace"
    if parts.scheme not in ("https", "http") or not host:
        return f"url must be an https:// URL with a host, not {show_value(url)}"
    if parts.username is not None or parts.password is not None:
        return "url must not carry credentials (user:password@); deliveries are signed with secret"
    if parts.fragment:
        return "url must not carry a #fragment"
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return ("url must use https://; plain http:// is accepted only for localhost, "
                f"127.0.0.1 and [::1], not {host!r}")
    ip = webhooks.literal_ip(host)
    if ip is not None:
        refusal = webhooks.address_refusal(str(ip), allow_loopback=True)
        if refusal:
            return f"url must not point at {refusal}"
    return None


class ListenerChecks(SpecChecks):
    """Listeners and projections."""

    def listeners(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"listeners must be a list, not {json_type(value)}")
            return
        if len(value) > MAX_LISTENERS:
            self.add(path, f"at most {MAX_LISTENERS} listeners, not {len(value)}")
        seen: set[str] = set()
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not self.obj(item, item_path, "a listener", LISTENER_KEYS,
                            required=("name", "url", "events", "secret")):
                continue
            if "name" in item and self.name(item["name"], key_path(item_path, "name"),
                                            "listener name"):
                if item["name"] in seen:
                    self.add(key_path(item_path, "name"),
                             f"duplicate listener name {item['name']!r}")
                seen.add(item["name"])
            if "url" in item:
                problem = _url_problem(item["url"])
                if problem:
                    self.add(key_path(item_path, "url"), problem)
            if "events" in item:
                self.listener_events(item["events"], key_path(item_path, "events"))
            if "secret" in item:
                self.listener_secret(item, key_path(item_path, "secret"))
            if "secret_ref" in item and not webhooks.is_secret_ref(item["secret_ref"]):
                self.add(key_path(item_path, "secret_ref"),
                         "secret_ref must be a reference this system gave out "
                         f"(lsk_<13 digits><12 hex>), not {show_value(item['secret_ref'])}")
            if "timeout_ms" in item:
                t = item["timeout_ms"]
                if (not isinstance(t, int) or isinstance(t, bool)
                        or not MIN_TIMEOUT_MS <= t <= MAX_TIMEOUT_MS):
                    self.add(key_path(item_path, "timeout_ms"),
                             f"timeout_ms must be a whole number of milliseconds from "
                             f"{MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}, not {show_value(t)}")

    def listener_secret(self, item: dict, path: str) -> None:
        """A whsec_ secret, or the placeholder a served spec shows (the stored secret is
        kept). Never echoes the value: it may be a real secret with a typo."""
        secret = item["secret"]
        if webhooks.is_redacted(secret):
            return
        if not isinstance(secret, str):
            self.add(path, f"secret must be a string, not {json_type(secret)}")
            return
        try:
            webhooks.secret_key(secret)
        except webhooks.SecretError as exc:
            self.add(path, f"secret {exc} (the value is not shown); e.g. 'whsec_' + base64 "
                           "of 32 random bytes")

    def listener_events(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "events must be a list of {\"aggregate_type\", \"event_type\"} "
                           "(event_type \"*\" for every event of the type), or of "
                           f"'aggregate_type.event_type' or 'aggregate_type.*', not {json_type(value)}")
            return
        if not value:
            self.add(path, "a listener must subscribe to at least one event")
        seen: set[tuple[str, str]] = set()
        for i, ref in enumerate(value):
            ref_path = f"{path}[{i}]"
            if isinstance(ref, dict):
                if not self.obj(ref, ref_path, "a subscription", SUBSCRIPTION_KEYS,
                                required=SUBSCRIPTION_KEYS):
                    continue
                agg, evt = ref.get("aggregate_type"), ref.get("event_type")
                if not isinstance(agg, str) or not isinstance(evt, str):
                    if "aggregate_type" in ref and "event_type" in ref:
                        self.add(ref_path, "aggregate_type and event_type must be strings")
                    continue
                evt_path = key_path(ref_path, "event_type")
                agg_path = key_path(ref_path, "aggregate_type")
            elif isinstance(ref, str) and ref.count(".") == 1:
                agg, evt = ref.split(".")
                agg_path = evt_path = ref_path
            else:
                self.add(ref_path, "must be {\"aggregate_type\", \"event_type\"}, or "
                                   "'aggregate_type.event_type' or 'aggregate_type.*', "
                                   f"not {show_value(ref)}")
                continue
            if (agg, evt) in seen:
                self.add(ref_path, f"duplicate subscription {agg}.{evt}")
                continue
            seen.add((agg, evt))
            if not NAME_RE.match(agg):
                self.add(agg_path, f"aggregate type {show_value(agg)} is not a valid name: {NAME_RULE}")
            elif not self.catalog_ok:
                continue
            elif agg not in self.catalog:
                self.add(agg_path, f"unknown aggregate type {agg!r} "
                                   f"(defined: {listing_of(self.catalog)})")
            elif evt != "*" and evt not in self.catalog[agg]:
                self.add(evt_path, f"aggregate type {agg!r} has no event type {show_value(evt)} "
                                   f"(defined: {listing_of(self.catalog[agg])})")

    def projections(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.add(path, f"projections must be an object of named projections, "
                           f"not {json_type(value)}")
            return
        for name, body in value.items():
            proj_path = key_path(path, name)
            self.name_key(name, proj_path, "projection name")
            if not self.obj(body, proj_path, "a projection", PROJECTION_KEYS,
                            required=("source", "handler")):
                continue
            if "source" in body:
                src_path = key_path(proj_path, "source")
                names = self.name_list(body["source"], src_path, "aggregate type", non_empty=True)
                for i, agg in enumerate(body["source"] if names else ()):
                    if (isinstance(agg, str) and NAME_RE.match(agg) and self.catalog_ok
                            and agg not in self.catalog):
                        self.add(f"{src_path}[{i}]", f"unknown aggregate type {agg!r} "
                                                     f"(defined: {listing_of(self.catalog)})")
            if "handler" in body:
                self.handler(body["handler"], key_path(proj_path, "handler"))
