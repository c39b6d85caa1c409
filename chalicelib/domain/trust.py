"""Progressive trust, pure: a device's tier and its effective rate limit.

A device is `new` for `new_tier_duration_hours` after it was first seen, then
`established` for `established_tier_duration_hours`, then `trusted`. An admin may
mark it `verified`; the spam threshold (or an admin) may block it. Precedence of
the effective limit, highest first:

  blocked  -> 0, whatever else is set
  custom   -> an admin's custom limit, while it has not expired
  verified -> trusted_tier_limit (a verify answers "rate_limit": 300)
  progressive -> the tier's limit; with progressive_trust.enabled false every
                 unverified device is `trusted` and gets trusted_tier_limit

Times are unix seconds; a tier boundary is exact to the second: `new` while
now - first_seen < new_tier_duration_hours * 3600.

Also the pure checks moderation needs on federation domains. No I/O here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

NEW, ESTABLISHED, TRUSTED, VERIFIED, BLOCKED = "new", "established", "trusted", "verified", "blocked"
PROGRESSIVE_TIERS = (NEW, ESTABLISHED, TRUSTED)  # in the order a device passes them
TIERS = PROGRESSIVE_TIERS + (VERIFIED,)           # the seed's by_trust_tier keys

SOURCE_BLOCKED, SOURCE_CUSTOM, SOURCE_VERIFIED, SOURCE_PROGRESSIVE = (
    "blocked", "custom", "verified", "progressive")

HOUR = 3600


@dataclass(frozen=True)
class TrustConfig:
    """The `progressive_trust` section of the server config."""
    enabled: bool = True
    new_tier_duration_hours: int = 6
    established_tier_duration_hours: int = 24
    new_tier_limit: int = 10
    established_tier_limit: int = 60
    trusted_tier_limit: int = 300
    spam_report_block_threshold: int = 5

    @classmethod
    def from_config(cls, config: Mapping) -> "TrustConfig":
        """From the whole config document (or its progressive_trust section)."""
        section = config.get("progressive_trust", config)
        known = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        return cls(**known)

    @property
    def new_seconds(self) -> int:
        return int(self.new_tier_duration_hours) * HOUR

    @property
    def established_until_seconds(self) -> int:
        """Age at which a device stops being `established`."""
        return (int(self.new_tier_duration_hours)
                + int(self.established_tier_duration_hours)) * HOUR

    def limit_of(self, tier: str) -> int:
        if tier == BLOCKED:
            return 0
        if tier == NEW:
            return self.new_tier_limit
        if tier == ESTABLISHED:
            return self.established_tier_limit
        return self.trusted_tier_limit  # trusted and verified


def progressive_tier(first_seen: float, now: float, cfg: TrustConfig) -> str:
    """new / established / trusted by age alone (trusted when progressive trust is off)."""
    if not cfg.enabled:
        return TRUSTED
    age = now - first_seen
    if age < cfg.new_seconds:
        return NEW
    if age < cfg.established_until_seconds:
        return ESTABLISHED
    return TRUSTED


def next_tier_at(first_seen: float, now: float, cfg: TrustConfig) -> int | None:
    """When the progressive tier next changes; None once trusted (or when disabled)."""
    tier = progressive_tier(first_seen, now, cfg)
    if tier == NEW:
        return int(first_seen + cfg.new_seconds)
    if tier == ESTABLISHED:
        return int(first_seen + cfg.established_until_seconds)
    return None


def tier(first_seen: float, now: float, *, verified: bool, blocked: bool,
         cfg: TrustConfig) -> str:
    """The one tier a device is in now: blocked > verified > progressive."""
    if blocked:
        return BLOCKED
    if verified:
        return VERIFIED
    return progressive_tier(first_seen, now, cfg)


def display(tier_name: str) -> str:
    """The capitalised form the seed's audit entries and the admin answers use."""
    return tier_name.capitalize()


def custom_active(custom_limit: int | None, custom_expires_at: float | None, now: float) -> bool:
    return custom_limit is not None and (custom_expires_at is None or now < custom_expires_at)


@dataclass(frozen=True)
class Effective:
    tier: str                 # new | established | trusted | verified | blocked
    rate_limit: int
    source: str               # blocked | custom | verified | progressive
    expires_at: int | None    # the custom limit's end (None: permanent or not custom)
    next_tier_at: int | None  # progressive only: when the tier (and its limit) changes


def effective(first_seen: float, now: float, *, verified: bool, blocked: bool,
              custom_limit: int | None, custom_expires_at: float | None,
              cfg: TrustConfig) -> Effective:
    current = tier(first_seen, now, verified=verified, blocked=blocked, cfg=cfg)
    if current == BLOCKED:
        return Effective(BLOCKED, 0, SOURCE_BLOCKED, None, None)
    if custom_active(custom_limit, custom_expires_at, now):
        expires = None if custom_expires_at is None else int(custom_expires_at)
        return Effective(current, int(custom_limit), SOURCE_CUSTOM, expires, None)
    if current == VERIFIED:
        return Effective(VERIFIED, cfg.trusted_tier_limit, SOURCE_VERIFIED, None, None)
    return Effective(current, cfg.limit_of(current), SOURCE_PROGRESSIVE, None,
                     next_tier_at(first_seen, now, cfg))


def of_device(device, now: float, cfg: TrustConfig) -> Effective:
    """The standing of a device record (anything with the device's fields) at `now`."""
    return effective(device.first_seen, now, verified=device.verified_at is not None,
                     blocked=device.blocked_at is not None,
                     custom_limit=device.custom_rate_limit,
                     custom_expires_at=device.custom_rate_limit_expires_at, cfg=cfg)


# --- federation domains ---------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# The same rule as one pattern, for request schemas: labels of letters, digits and inner
# hyphens, at least two, the last one not all digits.
_LABEL_TEXT = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_PATTERN = (rf"^(?:{_LABEL_TEXT}\.)+(?=[A-Za-z0-9-]*[A-Za-z-])"
                  rf"{_LABEL_TEXT}\.?$")


def normalize_domain(text: str) -> str:
    """A federation peer's domain, lower-cased; ValueError when it is not a hostname.

    Hostname syntax (RFC 1123 labels, 253 characters at most with the one trailing
    dot allowed, no surrounding whitespace), at least two labels, and a top-level
    label that is not all digits, so IP addresses and single names like `localhost`
    are refused. Internationalised names must be sent in their ASCII (punycode,
    `xn--`) form. DOMAIN_PATTERN states the same rule for request schemas."""
    if not isinstance(text, str):
        raise ValueError("domain must be a string")
    if text != text.strip():
        raise ValueError("domain must not start or end with whitespace")
    if len(text) > 253:
        raise ValueError("domain is longer than 253 characters")
    name = text.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise ValueError("domain is empty")
    labels = name.split(".")
    if len(labels) < 2:
        raise ValueError("domain needs at least two labels, e.g. chat.example.com")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"'{label}' is not a valid domain label (letters, digits and "
                             "inner hyphens, 1 to 63 characters)")
    if labels[-1].isdigit():
        raise ValueError("domain must be a name, not an IP address")
    return name
