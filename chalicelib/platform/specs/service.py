"""Specs: validated, versioned per instance environment, cached briefly per container."""
from __future__ import annotations

import time as _time

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.platform.instances import service as instances
from chalicelib.identity.principal import Principal
from chalicelib.store.conditions import condition_failed
from chalicelib.store.tables import SpecVersion, StreamTypeCounter

CACHE_SECONDS = 10  # a new spec is in force on every container within this time
_cache: dict[str, tuple[float, "SpecVersion | None"]] = {}

# Spec features that validate but that this deployment does not run yet: refused by
# name at deploy time rather than accepted and silently ignored.
NOT_RUN = {
    "listeners": "listeners (webhook deliveries) are not run by this deployment yet",
    "modules": "modules.sagas are not run by this deployment yet",
}


def scope(instance_id: str, env: str) -> str:
    return f"{instance_id}#{env}"


def latest(instance_id: str, env: str) -> SpecVersion | None:
    for item in SpecVersion.query(scope(instance_id, env), scan_index_forward=False, limit=1,
                                  consistent_read=True):
        return item
    return None


def current(instance_id: str, env: str) -> SpecVersion | None:
    """The spec in force, from this container's cache when fresh (no round trip)."""
    key = scope(instance_id, env)
    hit = _cache.get(key)
    if hit and _time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    item = latest(instance_id, env)
    _cache[key] = (_time.monotonic(), item)
    return item


def clear_cache() -> None:
    _cache.clear()


RESERVED_EVENT_TYPES = {"length": "GET /data/{type}/{id}/length"}


def _not_run(spec: dict) -> list[dict]:
    problems = []
    for key, message in NOT_RUN.items():
        if spec.get(key):
            problems.append({"path": f"$.{key}", "message": message})
    for agg_name, agg in (spec.get("aggregate_types") or {}).items():
        for ev_name, ev in (agg.get("events") or {}).items():
            if ev_name in RESERVED_EVENT_TYPES:
                problems.append({"path": f"$.aggregate_types.{agg_name}.events.{ev_name}",
                                 "message": f"event type '{ev_name}' is reserved by the data "
                                            f"API ({RESERVED_EVENT_TYPES[ev_name]})"})
            for i, imp in enumerate(ev.get("implications") or []):
                if isinstance(imp, dict) and "schedule" in imp:
                    problems.append({
                        "path": f"$.aggregate_types.{agg_name}.events.{ev_name}.implications[{i}]",
                        "message": "schedule implications are not run by this deployment yet"})
    return problems


def stored_types(instance_id: str, env: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in StreamTypeCounter.query(scope(instance_id, env)):
        if row.count > 0:
            agg, _, ev = row.type_key.partition(".")
            out.setdefault(agg, set()).add(ev)
    return out


def deploy(actor: Principal, instance_id: str, env: str, spec, force: bool) -> dict:
    from pynamodb.exceptions import PutError

    from chalicelib.domain import spec_validation
    instances.get(instance_id)
    if force and env == "prod":
        raise AppError("FORCE_NOT_ALLOWED")
    problems = spec_validation.validate_spec(spec)
    if not problems:
        problems = _not_run(spec)
    if problems:
        raise AppError("INVALID_SPEC", f"{len(problems)} problem(s) in the spec; see details",
                       details=problems)
    previous = latest(instance_id, env)
    orphans = spec_validation.orphaned(previous.spec if previous else {}, spec,
                                       stored_types(instance_id, env))
    if orphans and not force:
        raise AppError("SPEC_ORPHANS_EVENTS",
                       "The spec drops types that have stored events: " + ", ".join(orphans),
                       details=[{"path": name, "message": "has stored events"} for name in orphans])
    version = (int(previous.version) if previous else 0) + 1
    item = SpecVersion(scope=scope(instance_id, env), version=version, spec=spec,
                       deployed_at=clock.now_int(), deployed_by=actor.subject,
                       forced="true" if force else None)
    try:
        item.save(condition=SpecVersion.version.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise AppError("SPEC_DEPLOY_CONFLICT")
        raise
    _cache.pop(scope(instance_id, env), None)
    return {"instance_id": instance_id, "environment": env, "version": version,
            "deployed_at": clock.iso(item.deployed_at), "deployed_by": actor.subject,
            "forced": bool(force), "orphaned": orphans}


def describe(instance_id: str, env: str) -> dict:
    instances.get(instance_id)
    item = latest(instance_id, env)
    if item is None:
        raise AppError("SPEC_NOT_FOUND")
    return {"instance_id": instance_id, "environment": env, "version": int(item.version),
            "deployed_at": clock.iso(item.deployed_at), "deployed_by": item.deployed_by,
            "spec": item.spec}


def projections(instance_id: str) -> list[dict]:
    """Every projection the specs in force declare, per environment."""
    from chalicelib.domain.api_keys import ENVIRONMENTS
    instances.get(instance_id)
    out = []
    for env in ENVIRONMENTS:
        item = latest(instance_id, env)
        for name, projection in sorted(((item.spec if item else {}).get("projections") or {}).items()):
            out.append({"name": name, "environment": env, "spec_version": int(item.version),
                        "source": projection.get("source", []),
                        "handler_operations": len(projection.get("handler") or [])})
    return out
