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


# Password guessing: failed operator logins per account and source address per clock hour.
# Past it, the login answers 429 without checking the password (so the limit is no
# oracle), until the hour ends. Device logins need an Ed25519 signature and a
# single-use challenge, which no guessing gets through.
FAILED_LOGINS = 10


def _window(now: int) -> int:
    return now - now % WINDOW_SECONDS


def _refuse(message: str, window: int, now: int):
    retry_after = max(1, window + WINDOW_SECONDS - now)
    return AppError("RATE_LIMITED", message, headers={"Retry-After": str(retry_after)},
                    extra={"retry_after": retry_after})


def _login_counter(account: str, address: str | None, window: int) -> RateCounter:
    return RateCounter(key=f"failed_logins#{account}#{address or '-'}#{window}")


def check_login(account: str, address: str | None) -> None:
    """429 RATE_LIMITED when this account has failed FAILED_LOGINS times from `address`
    this hour. One GetItem."""
    now = clock.now_int()
    window = _window(now)
    counter = _login_counter(account, address, window)
    try:
        counter.refresh()
    except RateCounter.DoesNotExist:
        return
    if int(counter.count or 0) >= FAILED_LOGINS:
        raise _refuse(f"Too many failed logins ({FAILED_LOGINS} per hour from one address)",
                      window, now)


def count_failed_login(account: str, address: str | None) -> None:
    window = _window(clock.now_int())
    _login_counter(account, address, window).update(actions=[
        RateCounter.count.add(1), RateCounter.ttl.set(window + 2 * WINDOW_SECONDS)])


def consume(limit: str, admin: str) -> int:
    """Count one request; 429 RATE_LIMITED with Retry-After once the hour's budget is spent.
    One conditional UpdateItem: the increment happens only while under the limit."""
    maximum = LIMITS[limit]
    now = clock.now_int()
    window = _window(now)
    counter = RateCounter(key=f"{limit}#{admin}#{window}")
    if not update_if(counter, [RateCounter.count.add(1),
                               RateCounter.ttl.set(window + 2 * WINDOW_SECONDS)],
                     RateCounter.count.does_not_exist() | (RateCounter.count < maximum)):
        raise _refuse(f"Rate limit of {maximum} {limit.replace('_', ' ')} per hour reached",
                      window, now)
    return int(counter.count)
