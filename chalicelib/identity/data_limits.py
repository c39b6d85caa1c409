"""The data plane's rate limits, as the platform publishes them: per instance and minute,
writes by the plan's tier and reads 5× that, across every API key of the instance; and
a per-IP safety net across every instance. A batch counts as one request.

Counted atomically in DynamoDB (RateCounter items that expire with their window): one
conditional UpdateItem per counter, which also returns the count, so the answer carries
`X-RateLimit-Remaining`. A counter is sharded (shard picked at random per request, each
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

import json
import math
import os
import random
import time

from chalicelib.core import caches, clock
from chalicelib.core.errors import AppError
from chalicelib.domain import plans
from chalicelib.store.tables import Instance, RateCounter

WINDOW_SECONDS = 60
PLAN_CACHE_SECONDS = 30
SHARD_WRITES_PER_SECOND = 250

_plans: dict[str, tuple[float, str]] = {}


def _overrides() -> dict:
    try:
        value = json.loads(os.environ.get("RATE_LIMITS") or "{}")
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


def _count(key: str, limit: int, window: int) -> int | None:
    """Count one request on a shard of `key`; the shard's new count, or None when full."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.store.conditions import condition_failed
    shards = _shards(limit)
    budget = math.ceil(limit / shards)
    counter = RateCounter(key=f"{key}#{window}#{random.randrange(shards)}")
    try:
        counter.update(actions=[RateCounter.count.add(1),
                                RateCounter.ttl.set(window + 2 * WINDOW_SECONDS)],
                       condition=RateCounter.count.does_not_exist()
                       | (RateCounter.count < budget))
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return int(counter.count) * shards  # this shard's share, scaled: an estimate


def consume(instance_id: str, source_ip: str | None, writing: bool) -> dict:
    """Count one data-plane request; the X-RateLimit headers for its answer, or 429."""
    plan = plan_of(instance_id)
    limit = limit_of(plan, writing)
    now = clock.now_int()
    window = now - now % WINDOW_SECONDS
    kind = "write" if writing else "read"
    used = _count(f"data#{instance_id}#{kind}", limit, window)
    if used is None:
        raise _refused("instance", limit, plan, window, now)
    if source_ip:
        cap = ip_limit()
        if _count(f"ip#{source_ip}", cap, window) is None:
            raise _refused("ip", cap, plan, window, now)
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Scope": "instance", "X-RateLimit-Tier": plan}


def _refused(scope: str, limit: int, plan: str, window: int, now: int) -> AppError:
    retry_after = max(1, window + WINDOW_SECONDS - now)
    return AppError("RATE_LIMITED", "Rate limit exceeded",
                    headers={"Retry-After": str(retry_after), "X-RateLimit-Limit": str(limit),
                             "X-RateLimit-Remaining": "0", "X-RateLimit-Scope": scope,
                             "X-RateLimit-Tier": plan},
                    extra={"scope": scope, "limit": limit, "window": plans.WINDOW,
                           "tier": plan, "retry_after": retry_after})


caches.register("instance_plans", _plans.clear)
