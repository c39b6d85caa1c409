"""Instances of the event platform: one per customer deployment."""
from __future__ import annotations

import uuid

from chalicelib.core import clock
from chalicelib.domain import api_keys
from chalicelib.domain.environments import ENVIRONMENTS
from chalicelib.identity import audit
from chalicelib.store.instances import load_instance
from chalicelib.store.keys import scope_key
from chalicelib.store.tables import Instance

# plan -> (tier, limits). The tier is the resource class the plan runs on.
PLANS = {
    "free": ("shared", {"events_per_month": 100_000, "api_keys": 5, "backups_retained": 1}),
    "starter": ("shared", {"events_per_month": 1_000_000, "api_keys": 20, "backups_retained": 7}),
    "pro": ("dedicated", {"events_per_month": 25_000_000, "api_keys": 100, "backups_retained": 30}),
    "enterprise": ("dedicated-ha", {"events_per_month": None, "api_keys": 1000,
                                    "backups_retained": 365}),
}
DEFAULT_PLAN = "free"


def to_json(instance: Instance, detail: bool = False) -> dict:
    body = {"id": instance.id, "name": instance.name, "plan": instance.plan,
            "tier": instance.tier, "created_at": clock.iso(instance.created_at),
            "environments": list(ENVIRONMENTS)}
    if detail:
        body["limits"] = PLANS[instance.plan][1]
        body["created_by"] = instance.created_by
    return body


def create(act: audit.Act, name: str, plan: str | None) -> tuple[dict, audit.Note]:
    """The instance and its audit entry, in one transaction."""
    plan = plan or DEFAULT_PLAN
    instance = Instance(id=str(uuid.uuid4()), name=name.strip(), plan=plan,
                        tier=PLANS[plan][0], created_at=clock.now_int(),
                        created_by=act.actor.subject)
    note = audit.Note(instance.id, {"name": instance.name, "plan": instance.plan})
    act.commit(note, lambda tx: tx.save(instance, condition=Instance.id.does_not_exist()))
    return to_json(instance), note


def describe(instance_id: str) -> dict:
    """Details with plan, tier, limits and usage counted from the records themselves."""
    body = to_json(load_instance(instance_id), detail=True)
    body["usage"] = usage(instance_id)
    return body


def usage(instance_id: str) -> dict:
    """Events stored per environment (from the per-type counters the event store keeps in
    its write transactions) and live API keys: one Query per environment plus one."""
    from chalicelib.store.tables import ApiKey, StreamTypeCounter
    events = {env: sum(int(row.count) for row in StreamTypeCounter.query(scope_key(instance_id, env)))
              for env in ENVIRONMENTS}
    now = clock.now()
    keys = sum(1 for k in ApiKey.by_instance.query(instance_id)
               if api_keys.is_live(k.revoked_at, k.revoke_at, now))
    return {"events": events, "events_total": sum(events.values()), "api_keys_active": keys}


def list_all() -> list[dict]:
    # Instances are few (one per customer deployment); a scan of this table is bounded.
    items = [to_json(i) for i in Instance.scan()]
    return sorted(items, key=lambda i: (i["created_at"], i["id"]))
