"""The platform's plans (its billing tiers) and what each allows: the per-minute write
limit of an instance (reads 5×, as the platform's "Rate limits" page publishes), the
monthly event allowance, API keys and backups kept. Pure data."""
from __future__ import annotations

from typing import NamedTuple


class Plan(NamedTuple):
    tier: str                   # the resource class it runs on
    writes_per_minute: int
    events_per_month: int | None
    api_keys: int
    backups_retained: int

    @property
    def reads_per_minute(self) -> int:
        return self.writes_per_minute * READ_FACTOR


READ_FACTOR = 5
IP_PER_MINUTE = 30_000       # the per-IP safety net, across every instance
WINDOW = "1m"

PLANS = {
    "free": Plan("shared", 600, 100_000, 5, 1),
    "hobby": Plan("shared", 6_000, 1_000_000, 20, 7),
    "pro": Plan("dedicated", 12_000, 25_000_000, 100, 30),
    "scale": Plan("dedicated-ha", 60_000, None, 1000, 365),
}
DEFAULT_PLAN = "free"
# names an earlier revision of this API used, still accepted on create
ALIASES = {"starter": "hobby", "enterprise": "scale"}


def limits(plan: str) -> dict:
    """What `GET /api/instances/{id}` shows of a plan."""
    p = PLANS[plan]
    return {"events_per_month": p.events_per_month, "api_keys": p.api_keys,
            "backups_retained": p.backups_retained, "writes_per_minute": p.writes_per_minute,
            "reads_per_minute": p.reads_per_minute}
