"""Chat-server configuration document (seed 004, ``GET/PATCH /admin/v1/config``).

Pure logic: the default document, a declarative table of every field, patch
validation and patch application. No I/O and no project imports, so the API
layer, the store and the tests can all share it without dragging in AWS.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

# The seed's GET response, value for value. server_name is left empty because it
# is per-deployment (bootstrap's SERVER_NAME); use default_config() to fill it.
DEFAULTS: dict = {
    "server": {
        "server_name": "",
        "protocol_version": "1.0",
        "max_message_size": 10485760,
        "max_retention_days": 30,
    },
    "registration": {
        "enabled": True,
        "require_proof_of_work": True,
        "proof_of_work_difficulty": 20,
        "allow_time_delay": True,
        "time_delay_seconds": 300,
        "accept_invites": True,
    },
    "progressive_trust": {
        "enabled": True,
        "new_tier_duration_hours": 6,
        "established_tier_duration_hours": 24,
        "new_tier_limit": 10,
        "established_tier_limit": 60,
        "trusted_tier_limit": 300,
        "spam_report_block_threshold": 5,
    },
    "federation": {
        "enabled": True,
        "allowlist_mode": False,
        "auto_block_threshold": 0.2,
        "publish_blocklist": True,
        "certificate_validation": True,
    },
    "rate_limiting": {
        "enabled": True,
        "window_seconds": 3600,
        "burst_allowance": 10,
    },
    "storage": {
        "message_queue_limit": 1000,
        "announcement_retention_hours": 24,
        "metadata_retention_days": 30,
    },
}


def default_config(server_name: str) -> dict:
    """A fresh, independent copy of DEFAULTS for the given server name."""
    cfg = copy.deepcopy(DEFAULTS)
    cfg["server"]["server_name"] = server_name
    return cfg


@dataclass(frozen=True)
class Field:
    type: type  # bool, int, float or str
    min: float | None = None
    max: float | None = None
    read_only: bool = False
    requires_restart: bool = False


_HOUR_YEAR = 24 * 365
_DAY_DECADE = 365 * 10

# Every patchable (or read-only) leaf. Bounds are what an operator would accept
# as sane; anything outside is almost certainly a typo (an extra zero, seconds
# typed as hours). Most settings are read per request by the chat server, so
# changing them needs no restart -- the seed says requires_restart is "typically
# false", and its own example changes server.max_message_size with false.
FIELDS: dict[str, Field] = {
    # Identity of the server: federation peers and every device address embed
    # it, so it is fixed at bootstrap, never by PATCH.
    "server.server_name": Field(str, read_only=True),
    # Set by the software release, not by an operator.
    "server.protocol_version": Field(str, read_only=True),
    # 1 KiB .. 100 MiB. Checked per request (seed example: no restart).
    "server.max_message_size": Field(int, 1024, 100 * 1024 * 1024),
    "server.max_retention_days": Field(int, 1, _DAY_DECADE),
    "registration.enabled": Field(bool),
    "registration.require_proof_of_work": Field(bool),
    # Leading zero bits of the PoW hash: each bit doubles client work, so
    # beyond 32 nobody could register on a phone.
    "registration.proof_of_work_difficulty": Field(int, 0, 32),
    "registration.allow_time_delay": Field(bool),
    "registration.time_delay_seconds": Field(int, 1, 86400),
    "registration.accept_invites": Field(bool),
    "progressive_trust.enabled": Field(bool),
    "progressive_trust.new_tier_duration_hours": Field(int, 1, _HOUR_YEAR),
    "progressive_trust.established_tier_duration_hours": Field(int, 1, _HOUR_YEAR),
    # Messages per rate-limit window; 1..1000 is the seed's own example bound.
    "progressive_trust.new_tier_limit": Field(int, 1, 1000),
    "progressive_trust.established_tier_limit": Field(int, 1, 10000),
    "progressive_trust.trusted_tier_limit": Field(int, 1, 10000),
    "progressive_trust.spam_report_block_threshold": Field(int, 1, 1000),
    # Federation listeners/workers are started at boot, so switching federation
    # on or off only takes effect after a restart.
    "federation.enabled": Field(bool, requires_restart=True),
    "federation.allowlist_mode": Field(bool),
    # A fraction (share of spam among a peer's messages), hence 0..1.
    "federation.auto_block_threshold": Field(float, 0, 1),
    "federation.publish_blocklist": Field(bool),
    # TLS contexts for peer connections are built once at startup.
    "federation.certificate_validation": Field(bool, requires_restart=True),
    "rate_limiting.enabled": Field(bool),
    "rate_limiting.window_seconds": Field(int, 1, 86400),
    "rate_limiting.burst_allowance": Field(int, 0, 10000),
    # The per-device queue is sized when the queue workers start.
    "storage.message_queue_limit": Field(int, 1, 1_000_000, requires_restart=True),
    "storage.announcement_retention_hours": Field(int, 1, _HOUR_YEAR),
    "storage.metadata_retention_days": Field(int, 1, _DAY_DECADE),
}

SECTIONS = tuple(dict.fromkeys(p.split(".", 1)[0] for p in FIELDS))

# Cross-field rule on the merged result: a higher trust tier must never be
# allowed fewer messages than a lower one.
_TIER_ORDER = (
    "progressive_trust.new_tier_limit",
    "progressive_trust.established_tier_limit",
    "progressive_trust.trusted_tier_limit",
)

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


class PatchResult(NamedTuple):
    config: dict
    updated_fields: list
    old_values: dict
    new_values: dict
    requires_restart: bool


def flatten(config: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}. Only dicts are descended into."""
    out = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _type_ok(ftype: type, value: Any) -> bool:
    # bool is a subclass of int, but `true` for a limit is a client bug.
    if isinstance(value, bool):
        return ftype is bool
    if ftype is float:
        # JSON has no int/float split; NaN/inf would slip through bound checks.
        return isinstance(value, (int, float)) and math.isfinite(value)
    if ftype is int and isinstance(value, float):  # 377.0 is an integer to JSON Schema
        return math.isfinite(value) and value.is_integer()
    return isinstance(value, ftype)


def _problem(path: str, message: str) -> dict:
    return {"path": path, "message": message}


def _check_field(path: str, spec: Field, value: Any, current_value: Any) -> str | None:
    if spec.read_only:
        # Sending the unchanged value is allowed so that a client may PATCH back
        # the whole document it got from GET.
        same = type(value) is type(current_value) and value == current_value
        return None if same else f"{path} is read-only"
    if not _type_ok(spec.type, value):
        return f"{path} must be {_TYPE_NAMES[spec.type]}"
    if spec.min is not None and not (spec.min <= value <= spec.max):
        return f"{path} must be between {spec.min} and {spec.max}"
    return None


def validate_patch(current: dict, patch: Any) -> list:
    """Every problem with `patch` against `current`, as [{path, message}]; [] if valid.

    Never raises, whatever JSON-like value `patch` is.
    """
    if not isinstance(patch, dict):
        return [_problem("", "config patch must be a JSON object")]
    flat_current = flatten(current) if isinstance(current, dict) else {}
    problems, accepted = [], {}
    for section, body in patch.items():
        section = str(section)
        if section not in SECTIONS:
            problems.append(_problem(section, f"{section} is not a known config section"))
            continue
        if not isinstance(body, dict):
            problems.append(_problem(section, f"{section} must be an object"))
            continue
        for name, value in body.items():
            path = f"{section}.{name}"
            spec = FIELDS.get(path)
            if spec is None:
                problems.append(_problem(path, f"{path} is not a known config field"))
                continue
            message = _check_field(path, spec, value, flat_current.get(path))
            if message:
                problems.append(_problem(path, message))
            else:
                accepted[path] = value

    # Cross-field checks run on current + the individually valid changes, and
    # only fire for pairs the patch touches, so an unrelated patch is never
    # blocked by state it did not create.
    merged = {**flat_current, **accepted}
    for low, high in zip(_TIER_ORDER, _TIER_ORDER[1:]):
        lo, hi = merged.get(low), merged.get(high)
        if low not in accepted and high not in accepted:
            continue
        if not (_type_ok(int, lo) and _type_ok(int, hi)) or lo <= hi:
            continue
        path = low if low in accepted else high
        problems.append(_problem(path, f"{low} ({lo}) must not exceed {high} ({hi})"))
    return problems


def apply_patch(current: dict, patch: dict) -> PatchResult:
    """Deep-merge a patch that validate_patch accepted; `current` is not mutated.

    Unpacks as (new_config, updated_fields, old_values, new_values, requires_restart).
    """
    new_config = copy.deepcopy(current)
    old_values, new_values = {}, {}
    for section, body in patch.items():
        target = new_config.setdefault(section, {})
        for name, value in body.items():
            path = f"{section}.{name}"
            if FIELDS[path].type is float:
                value = float(value)  # store one type for a float field
            elif FIELDS[path].type is int:
                value = int(value)    # and for an integer field (377.0 is 377)
            old = target.get(name)
            # type() check: guards against a stored 1 vs True mix-up counting as equal.
            if name in target and type(old) is type(value) and old == value:
                continue
            target[name] = value
            old_values[path], new_values[path] = old, value
    updated = sorted(new_values)
    restart = any(FIELDS[p].requires_restart for p in updated)
    return PatchResult(new_config, updated, old_values, new_values, restart)
