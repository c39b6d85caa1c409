"""Specs: validated, versioned per instance environment, cached briefly per container."""
from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.domain.webhooks import redacted_spec
from chalicelib.identity import audit
from chalicelib.store import specs as spec_store
from chalicelib.store.instances import load_instance
from chalicelib.store.keys import scope_key
from chalicelib.store.tables import SpecVersion

RESERVED_EVENT_TYPES = {"length": "GET /data/{type}/{id}/length",
                        "events": "GET /data/{type}/{id}/events"}


def _reserved(spec: dict) -> list[dict]:
    """Event types the data API's own routes reserve."""
    problems = []
    for agg_name, agg in (spec.get("aggregate_types") or {}).items():
        for ev_name, ev in (agg.get("events") or {}).items():
            if ev_name in RESERVED_EVENT_TYPES:
                problems.append({"path": f"$.aggregate_types.{agg_name}.events.{ev_name}",
                                 "message": f"event type '{ev_name}' is reserved by the data "
                                            f"API ({RESERVED_EVENT_TYPES[ev_name]})"})
    return problems


def deploy(act: audit.Act, instance_id: str, env: str, spec,
           force: bool) -> tuple[dict, audit.Note]:
    """Validate, check what the deploy would orphan, then store the new version and its
    audit entry in one transaction."""

    from chalicelib.domain import specs as spec_validation
    load_instance(instance_id)
    if force and env == "prod":
        raise AppError("FORCE_NOT_ALLOWED")
    problems = spec_validation.validate_spec(spec)
    if not problems:
        problems = _reserved(spec)
    if problems:
        raise AppError("INVALID_SPEC", f"{len(problems)} problem(s) in the spec; see details",
                       details=problems)
    previous = spec_store.latest(instance_id, env)
    orphans = spec_validation.orphaned(previous.spec if previous else {}, spec,
                                       spec_store.stored_types(instance_id, env))
    if orphans and not force:
        raise AppError("SPEC_ORPHANS_EVENTS",
                       "The spec drops types that have stored events: " + ", ".join(orphans),
                       details=[{"path": name, "message": "has stored events"} for name in orphans])
    version = (int(previous.version) if previous else 0) + 1
    # listener secrets leave the spec here: sealed apart, the stored spec redacted
    from chalicelib.store import listener_secrets
    spec, sealed = listener_secrets.seal_listeners(
        instance_id, env, spec, previous.spec if previous else None, act.actor.subject)
    item = SpecVersion(scope=scope_key(instance_id, env), version=version, spec=spec,
                       deployed_at=clock.now_int(), deployed_by=act.actor.subject,
                       forced="true" if force else None)
    note = audit.Note(instance_id, {"environment": env, "version": version,
                                    "forced": bool(force), "orphaned": orphans})
    def write(tx) -> None:
        tx.save(item, condition=SpecVersion.version.does_not_exist())
        for secret in sealed:
            tx.save(secret)
    if not act.commit(note, write):
        raise AppError("SPEC_DEPLOY_CONFLICT")
    spec_store.forget(instance_id, env)
    return {"instance_id": instance_id, "environment": env, "version": version,
            "deployed_at": clock.iso(item.deployed_at), "deployed_by": act.actor.subject,
            "forced": bool(force), "orphaned": orphans}, note


def describe(instance_id: str, env: str) -> dict:
    load_instance(instance_id)
    item = spec_store.latest(instance_id, env)
    if item is None:
        raise AppError("SPEC_NOT_FOUND")
    return {"instance_id": instance_id, "environment": env, "version": int(item.version),
            "deployed_at": clock.iso(item.deployed_at), "deployed_by": item.deployed_by,
            "spec": redacted_spec(item.spec)}


def projections(instance_id: str) -> list[dict]:
    """Every projection the specs in force declare, per environment."""
    from chalicelib.domain.environments import ENVIRONMENTS
    load_instance(instance_id)
    out = []
    for env in ENVIRONMENTS:
        item = spec_store.latest(instance_id, env)
        for name, projection in sorted(((item.spec if item else {}).get("projections") or {}).items()):
            out.append({"name": name, "environment": env, "spec_version": int(item.version),
                        "source": projection.get("source", []),
                        "handler_operations": len(projection.get("handler") or [])})
    return out
