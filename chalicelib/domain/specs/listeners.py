"""Checks of the spec's event consumers outside aggregates: ``listeners`` (webhook
deliveries: unique names, an https URL without credentials, subscriptions to declared
``TYPE.EVENT`` or ``TYPE.*``, a secret reference) and ``projections`` (declared source
aggregate types and a tick handler)."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.specs.checks import SpecChecks
from chalicelib.domain.specs.rules import (
    NAME_RE,
    NAME_RULE,
    json_type,
    key_path,
    listing_of,
    show_value,
)

LISTENER_KEYS = ("name", "url", "events", "secret_ref")
PROJECTION_KEYS = ("source", "handler")

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

SECRET_REF_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return f"url must be an https:// URL, not {show_value(url)}"
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
        return "url must not carry credentials (user:password@); sign deliveries with secret_ref"
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        return ("url must use https://; plain http:// is accepted only for localhost, "
                f"127.0.0.1 and [::1], not {host!r}")
    return None


class ListenerChecks(SpecChecks):
    """Listeners and projections."""

    def listeners(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"listeners must be a list, not {json_type(value)}")
            return
        seen: set[str] = set()
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not self.obj(item, item_path, "a listener", LISTENER_KEYS,
                            required=("name", "url", "events")):
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
            if "secret_ref" in item:
                ref = item["secret_ref"]
                if not isinstance(ref, str) or not SECRET_REF_RE.match(ref):
                    self.add(key_path(item_path, "secret_ref"),
                             "secret_ref must name a secret: 1-512 characters of A-Za-z0-9/_+=.@-, "
                             f"not {show_value(ref)}")

    def listener_events(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "events must be a list of 'aggregate_type.event_type' or "
                           f"'aggregate_type.*', not {json_type(value)}")
            return
        if not value:
            self.add(path, "a listener must subscribe to at least one event")
        seen: set[str] = set()
        for i, ref in enumerate(value):
            ref_path = f"{path}[{i}]"
            if not isinstance(ref, str) or ref.count(".") != 1:
                self.add(ref_path, "must be 'aggregate_type.event_type' or 'aggregate_type.*', "
                                   f"not {show_value(ref)}")
                continue
            if ref in seen:
                self.add(ref_path, f"duplicate subscription {ref!r}")
                continue
            seen.add(ref)
            agg, evt = ref.split(".")
            if not NAME_RE.match(agg):
                self.add(ref_path, f"aggregate type {show_value(agg)} is not a valid name: {NAME_RULE}")
            elif not self.catalog_ok:
                continue
            elif agg not in self.catalog:
                self.add(ref_path, f"unknown aggregate type {agg!r} "
                                   f"(defined: {listing_of(self.catalog)})")
            elif evt != "*" and evt not in self.catalog[agg]:
                self.add(ref_path, f"aggregate type {agg!r} has no event type {show_value(evt)} "
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
