"""Seed 004's admin rate limits: per admin, per clock hour, counted atomically in
DynamoDB so the limit holds across every Lambda container."""
from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.store.conditions import update_if
from chalicelib.store.tables import RateCounter

WINDOW_SECONDS = 3600
LIMITS = {
    "metrics_queries": 1000,
    "config_updates": 100,
    "audit_queries": 1000,
}


def consume(limit: str, admin: str) -> int:
    """Count one request; 429 RATE_LIMITED with Retry-After once the hour's budget is spent.
    One conditional UpdateItem: the increment happens only while under the limit."""
    maximum = LIMITS[limit]
    now = clock.now_int()
    window = now - now % WINDOW_SECONDS
    counter = RateCounter(key=f"{limit}#{admin}#{window}")
    if not update_if(counter, [RateCounter.count.add(1),
                               RateCounter.ttl.set(window + 2 * WINDOW_SECONDS)],
                     RateCounter.count.does_not_exist() | (RateCounter.count < maximum)):
        retry_after = window + WINDOW_SECONDS - now
        raise AppError("RATE_LIMITED",
                       f"Rate limit of {maximum} {limit.replace('_', ' ')} per hour reached",
                       headers={"Retry-After": str(max(1, retry_after))},
                       extra={"retry_after": max(1, retry_after)})
    return int(counter.count)
