"""Alerts: the rules of domain/alert_rules.py applied to what the system measures, kept
in the Alert table (one row per rule id).

Inputs: pushed samples from the metric store (gauge `cpu_usage_percent`, counters
`spam_reports`, `federation_messages_sent`, `federation_failed_deliveries`), the health
probes of DynamoDB and S3, and the chat server's last status push.

Every change is a conditional write, so concurrent evaluations cannot reset an alert:
activation only where the row is not active (the first run's started_at stays), updates
and clearing only where it is. A second run on the same inputs writes nothing.
Rows are read by their rule ids (one BatchGetItem): no scan, no index needed.
"""
from __future__ import annotations

from chalicelib.chat.health import service as health
from chalicelib.domain import alert_rules as rules
from chalicelib.store import metric_store
from chalicelib.store.conditions import update_if
from chalicelib.store.tables import Alert

CPU_METRIC = "cpu_usage_percent"
SPAM_METRIC = "spam_reports"
FEDERATION_SENT_METRIC = "federation_messages_sent"
FEDERATION_FAILED_METRIC = "federation_failed_deliveries"
HOUR = 3600


def _gauge_buckets(name: str, start: int, end: int) -> tuple[rules.Bucket, ...]:
    return tuple(rules.Bucket(int(b.start), b.total / max(b.count, 1),
                              None if b.last is None else float(b.last))
                 for b in metric_store.buckets(name, "5m", start, end))


def _counter_total(name: str, start: int, end: int) -> float:
    return sum(metric_store.value_of(b) for b in metric_store.buckets(name, "5m", start, end))


def gather(now: int | None = None) -> rules.Inputs:
    """Everything the rules look at, measured now."""
    snap = health.snapshot()
    now = snap.now if now is None else now
    current = metric_store.bucket_start(now, "5m")
    # "the last hour": the bucket in progress and the 11 before it
    hour_start = current - (HOUR - rules.BUCKET_SECONDS)
    baseline_start = hour_start - rules.SPAM_BASELINE_HOURS * HOUR
    spam = metric_store.buckets(SPAM_METRIC, "5m", baseline_start, now + 1)
    cpu_start = metric_store.bucket_start(now - rules.CPU_WINDOW_SECONDS, "5m")
    worker = snap.meta.worker
    return rules.Inputs(
        now=now,
        cpu=_gauge_buckets(CPU_METRIC, cpu_start, now + 1),
        spam_last_hour=sum(metric_store.value_of(b) for b in spam if b.start >= hour_start),
        spam_previous_24h=sum(metric_store.value_of(b) for b in spam if b.start < hour_start),
        federation_sent_last_hour=_counter_total(FEDERATION_SENT_METRIC, hour_start, now + 1),
        federation_failed_last_hour=_counter_total(FEDERATION_FAILED_METRIC, hour_start, now + 1),
        probes=(_probe("DynamoDB", snap.database), _probe("S3", snap.storage)),
        worker_reported_at=None if worker is None else int(worker["received_at"]),
        deployed_at=snap.meta.deployed_at,
    )


def _probe(name: str, component: dict) -> rules.Probe:
    return rules.Probe(name, component["status"] != health.UNHEALTHY, component["latency_ms"],
                       component.get("error"))


def _state(row: Alert | None) -> rules.State | None:
    if row is None:
        return None
    return rules.State(active=row.active == "true", started_at=_int(row.started_at),
                       severity=row.severity, component=row.component, message=row.message,
                       details=row.details or {}, pending_since=_int(row.pending_since),
                       cleared_at=_int(row.cleared_at))


def _int(value):
    return None if value is None else int(value)


def _rows(consistent: bool = False) -> dict[str, Alert]:
    return {row.id: row for row in Alert.batch_get(list(rules.RULE_IDS),
                                                   consistent_read=consistent)}


def write_change(rule: rules.Rule, change: str, after: rules.State, now: int) -> bool:
    """One conditional UpdateItem; False when a concurrent run already made the change."""
    row = Alert(id=rule.id)
    shown = [Alert.severity.set(after.severity), Alert.component.set(after.component),
             Alert.message.set(after.message), Alert.details.set(after.details)]
    active = Alert.active == "true"
    if change == rules.ACTIVATE:
        actions = shown + [Alert.active.set("true"), Alert.started_at.set(after.started_at),
                           Alert.cleared_at.remove(), Alert.pending_since.remove()]
        condition = Alert.active.does_not_exist()
    elif change == rules.UPDATE:
        actions, condition = shown, active
    elif change == rules.CLEAR:
        actions = [Alert.active.remove(), Alert.cleared_at.set(now), Alert.pending_since.remove()]
        condition = active
    elif change == rules.PEND:
        # the row's other fields are written too, so a pending row is a whole item
        actions = shown + [Alert.pending_since.set(now),
                           Alert.started_at.set(Alert.started_at | now)]
        condition = Alert.active.does_not_exist() & Alert.pending_since.does_not_exist()
    elif change == rules.UNPEND:
        actions = [Alert.pending_since.remove()]
        condition = Alert.active.does_not_exist()
    else:
        return False
    return update_if(row, actions, condition)


def evaluate(now: int | None = None) -> dict:
    """Apply every rule once; answer what changed (all zero on a repeated run)."""
    inputs = gather(now)
    rows = _rows(consistent=True)
    counts = {"evaluated": 0, "firing": 0, "activated": 0, "updated": 0, "cleared": 0,
              "pending": 0}
    names = {rules.ACTIVATE: "activated", rules.UPDATE: "updated", rules.CLEAR: "cleared",
             rules.PEND: "pending"}
    for rule, finding in rules.evaluate(inputs):
        counts["evaluated"] += 1
        counts["firing"] += finding.firing
        change, after = rules.plan(rule, finding, _state(rows.get(rule.id)), inputs.now)
        if write_change(rule, change, after, inputs.now) and change in names:
            counts[names[change]] += 1
    return counts


def to_json(row: Alert) -> dict:
    return {"id": row.id, "severity": row.severity, "component": row.component,
            "message": row.message, "started_at": int(row.started_at),
            "details": row.details or {}}


def active() -> list[dict]:
    """Active alerts: critical, then warning, then info; oldest first within each."""
    firing = [row for row in _rows().values() if row.active == "true"]
    firing.sort(key=lambda r: (rules.severity_rank(r.severity), r.started_at, r.id))
    return [to_json(row) for row in firing]
