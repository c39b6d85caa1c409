"""Instances of the event platform: one per customer deployment."""
from __future__ import annotations

import base64
import binascii
import json
import uuid

from chalicelib.core import clock
from chalicelib.core.errors import invalid
from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.identity import audit
from chalicelib.store import keys
from chalicelib.store.tables import Instance

from chalicelib.domain import plans
from chalicelib.domain.plans import DEFAULT_PLAN, PLANS


def to_json(instance: Instance, detail: bool = False) -> dict:
    body = {"id": instance.id, "name": instance.name, "plan": instance.plan,
            "tier": instance.tier, "created_at": clock.iso(instance.created_at),
            "environments": list(ENVIRONMENTS)}
    if detail:
        body["limits"] = plans.limits(plans.ALIASES.get(instance.plan, instance.plan))
        body["created_by"] = instance.created_by
    return body


def create(act: audit.Act, name: str, plan: str | None) -> tuple[dict, audit.Note]:
    """The instance and its audit entry, in one transaction."""
    plan = plans.ALIASES.get(plan, plan) if plan else DEFAULT_PLAN
    instance = Instance(id=str(uuid.uuid4()), name=name.strip(), plan=plan,
                        tier=PLANS[plan].tier, created_at=clock.now_int(),
                        created_by=act.actor.subject)
    note = audit.Note(instance.id, {"name": instance.name, "plan": instance.plan})
    act.commit(note, lambda tx: tx.save(instance, condition=Instance.id.does_not_exist()))
    return to_json(instance), note


def describe(instance_id: str) -> dict:
    """Details with plan, tier, limits and usage: the instance and its running totals in
    one BatchGetItem."""
    month = keys.month_of(clock.now())
    instance, totals = _instance_and_totals(instance_id, month)

    def total(env: str, month: str | None = None) -> int:
        return sum(totals.get(name, 0) for name in keys.event_total_shards(env, month))
    body = to_json(instance, detail=True)
    events = {env: total(env) for env in ENVIRONMENTS}
    this_month = {env: total(env, month) for env in ENVIRONMENTS}
    allowance = PLANS[plans.ALIASES.get(instance.plan, instance.plan)].events_per_month
    used = sum(this_month.values())
    body["usage"] = {"events": events, "events_total": sum(events.values()),
                     "api_keys_active": totals.get("api_keys", 0),
                     "this_month": {   # against the plan's allowance (None: unlimited)
                         "month": month, "events": this_month, "events_total": used,
                         "allowance": allowance,
                         "remaining": None if allowance is None else max(allowance - used, 0),
                         "percent_used": (None if allowance is None
                                          else round(100 * used / allowance, 2))}}
    return body


def _instance_and_totals(instance_id: str, month: str) -> tuple[Instance, dict]:
    """One BatchGetItem across two tables: the instance and the running totals kept in
    the same transactions as the acts they count (keys.usage_key): events per
    environment by the appends, keys not finally revoked by the key acts."""
    from chalicelib.core.errors import AppError
    from chalicelib.store import aws
    from chalicelib.store.tables import StreamTypeCounter
    usage_scope = keys.usage_key(instance_id)
    inst_table, count_table = Instance.Meta.table_name, StreamTypeCounter.Meta.table_name
    request = {inst_table: {"Keys": [{"id": {"S": instance_id}}], "ConsistentRead": True},
               count_table: {"Keys": [{"scope": {"S": usage_scope}, "type_key": {"S": name}}
                                      for name in _total_names(month)],
                           "ConsistentRead": True}}
    found: dict = {inst_table: [], count_table: []}
    client = aws.client("dynamodb")
    while request:
        answer = client.batch_get_item(RequestItems=request)
        for table, items in answer.get("Responses", {}).items():
            found[table] += items
        request = answer.get("UnprocessedKeys") or {}
    if not found[inst_table]:
        raise AppError("INSTANCE_NOT_FOUND")
    totals = {item["type_key"]["S"]: int(item.get("count", {}).get("N", 0))
              for item in found[count_table]}
    return Instance.from_raw_data(found[inst_table][0]), totals


def _total_names(month: str) -> list[str]:
    return [name for env in ENVIRONMENTS for m in (None, month)
            for name in keys.event_total_shards(env, m)] + ["api_keys"]


def list_all() -> list[dict]:
    """Every instance in creation order (ties by id). Instances are few (one per
    customer deployment); a scan of this table is bounded."""
    items = [to_json(i) for i in Instance.scan()]
    return sorted(items, key=_order)


DEFAULT_PAGE = 100
MAX_PAGE = 1000
_MAX_CURSOR = 400


def list_page(limit: int = DEFAULT_PAGE, cursor: str | None = None) -> dict:
    """One page of list_all(): {"instances", "next_cursor"}.

    The cursor names the last instance answered (its creation time and id), so pages
    neither repeat nor skip an instance, and one created meanwhile shows up on a later
    page. Each page reads the table with one paginated Scan and answers at most `limit`
    of it."""
    after = _after(cursor) if cursor else None
    limit = min(max(int(limit), 1), MAX_PAGE)
    rows = list_all()
    if after is not None:
        rows = [r for r in rows if _order(r) > after]
    page = rows[:limit]
    more = len(rows) > limit
    return {"instances": page, "next_cursor": _cursor(*_order(page[-1])) if more else None}


def _order(item: dict) -> tuple[str, str]:
    return item["created_at"] or "", item["id"]   # ISO 8601, whole seconds: sorts as time does


def _cursor(created_at: str, instance_id: str) -> str:
    raw = json.dumps([created_at, instance_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[str, str]:
    """(created_at, id) of a cursor this listing gave out; 400 for anything else."""
    try:
        if len(cursor) > _MAX_CURSOR or not cursor.isascii():
            raise ValueError("length")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, instance_id = json.loads(raw)
        if (not isinstance(created_at, str) or not isinstance(instance_id, str)
                or _cursor(created_at, instance_id) != cursor):
            raise ValueError("shape")
    except (ValueError, TypeError, binascii.Error):
        raise invalid("cursor", "is not a cursor from this listing")
    return created_at, instance_id
