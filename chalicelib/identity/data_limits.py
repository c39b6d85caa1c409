"""The data plane's rate limits, as the platform publishes them: per instance and minute,
writes by the plan's tier and reads 5× that, across every API key of the instance; and
a per-IP safety net across every instance. A batch counts as one request.

Counted atomically in DynamoDB (RateCounter items that expire with their window): the
instance's counter with one conditional UpdateItem, which also returns the count, so the
answer carries `X-RateLimit-Remaining`; the IP's with another, except on an append, where
it rides in the append's own TransactWriteItems (`Deferred`), so the limiter adds one
round trip to an append and the append stays one transaction. A counter is sharded (shard picked at random per request, each
holding its share of the limit) so that no single item takes more than ~250 writes a
second: a busy instance does not make a hot partition. Near the limit, a full shard can
refuse while another still has room: the limit is never exceeded, and undershoots by at
most the shards' rounding. The plan of an instance is cached per container for 30 s
(the platform: "tier changes take effect within 30 seconds").

Past a limit: 429 with Retry-After (to the window's end), X-RateLimit-Limit,
X-RateLimit-Remaining: 0, X-RateLimit-Scope (instance or ip), X-RateLimit-Tier, and the
body {"ok": false, "error": "Rate limit exceeded", "scope", "limit", "window": "1m",
"tier"}.

RATE_LIMITS (environment, JSON) lowers or raises them for a deployment or a test:
{"writes_per_minute": {"free": 5}, "ip_per_minute": 100}."""
from __future__ import annotations

import functools
import json
import math
import os
import random
import time
from typing import Any, NamedTuple

from chalicelib.core import caches, clock
from chalicelib.core.errors import AppError
from chalicelib.domain import plans
from chalicelib.store.tables import Instance, RateCounter

WINDOW_SECONDS = 60
PLAN_CACHE_SECONDS = 30
SHARD_WRITES_PER_SECOND = 250

_plans: dict[str, tuple[float, str]] = {}


def _overrides() -> dict:
    return _parsed(os.environ.get("RATE_LIMITS") or "{}")


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> dict:
    """RATE_LIMITS read once per value, not twice per request."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def plan_of(instance_id: str) -> str:
    now = time.monotonic()
    cached = _plans.get(instance_id)
    if cached and now - cached[0] < PLAN_CACHE_SECONDS:
        return cached[1]
    try:
        plan = Instance.get(instance_id).plan
    except Instance.DoesNotExist:
        plan = plans.DEFAULT_PLAN
    plan = plans.ALIASES.get(plan, plan) if plan in plans.PLANS or plan in plans.ALIASES \
        else plans.DEFAULT_PLAN
    _plans[instance_id] = (now, plan)
    return plan


def limit_of(plan: str, writing: bool) -> int:
    over = _overrides().get("writes_per_minute", {})
    writes = int(over.get(plan, plans.PLANS[plan].writes_per_minute)) if isinstance(
        over, dict) else plans.PLANS[plan].writes_per_minute
    return writes if writing else writes * plans.READ_FACTOR


def ip_limit() -> int:
    return int(_overrides().get("ip_per_minute", plans.IP_PER_MINUTE))


def _shards(limit: int) -> int:
    return max(1, math.ceil(limit / WINDOW_SECONDS / SHARD_WRITES_PER_SECOND))


class Deferred(NamedTuple):
    """A count to make in the caller's own transaction: the update, its condition, and
    the 429 to answer when the transaction is cancelled on that condition."""
    counter: RateCounter
    actions: list
    condition: Any
    refusal: AppError


def _shard(key: str, limit: int, window: int) -> Deferred:
    shards = _shards(limit)
    budget = math.ceil(limit / shards)
    return Deferred(RateCounter(key=f"{key}#{window}#{random.randrange(shards)}"),
                    [RateCounter.count.add(1), RateCounter.ttl.set(window + 2 * WINDOW_SECONDS)],
                    RateCounter.count.does_not_exist() | (RateCounter.count < budget), None)


def _count(key: str, limit: int, window: int) -> int | None:
    """Count one request on a shard of `key`; the shard's new count, or None when full."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.store.conditions import condition_failed
    shard = _shard(key, limit, window)
    try:
        shard.counter.update(actions=shard.actions, condition=shard.condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return int(shard.counter.count) * _shards(limit)  # this shard's share, scaled


def consume(instance_id: str, source_ip: str | None, writing: bool
            ) -> tuple[dict, Deferred | None]:
    """Count one data-plane request: the X-RateLimit headers for its answer and, for a
    write, the IP's count for the append's transaction to make; or 429."""
    plan = plan_of(instance_id)
    limit = limit_of(plan, writing)
    now = clock.now_int()
    window = now - now % WINDOW_SECONDS
    kind = "write" if writing else "read"
    used = _count(f"data#{instance_id}#{kind}", limit, window)
    if used is None:
        raise _refused("instance", limit, plan, window, now)
    deferred = None
    if source_ip:
        cap = ip_limit()
        if writing:
            deferred = _shard(f"ip#{source_ip}", cap, window)._replace(
                refusal=_refused("ip", cap, plan, window, now))
        elif _count(f"ip#{source_ip}", cap, window) is None:
            raise _refused("ip", cap, plan, window, now)
    headers = {"X-RateLimit-Limit": str(limit),
               "X-RateLimit-Remaining": str(max(0, limit - used)),
               "X-RateLimit-Scope": "instance", "X-RateLimit-Tier": plan}
    return headers, deferred


def _refused(scope: str, limit: int, plan: str, window: int, now: int) -> AppError:
    retry_after = max(1, window + WINDOW_SECONDS - now)
    return AppError("RATE_LIMITED", "Rate limit exceeded",
                    headers={"Retry-After": str(retry_after), "X-RateLimit-Limit": str(limit),
                             "X-RateLimit-Remaining": "0", "X-RateLimit-Scope": scope,
                             "X-RateLimit-Tier": plan},
                    extra={"scope": scope, "limit": limit, "window": plans.WINDOW,
                           "tier": plan, "retry_after": retry_after})


caches.register("instance_plans", _plans.clear)
