"""Alert rules as data, and how an alert's stored state follows their verdicts. Pure.

Each rule has an id, a default severity, a component and `evaluate(inputs) -> Finding`
(firing or not, message, details; a finding may raise the severity). The thresholds:

  alert_high_cpu            warning   the chat server's gauge `cpu_usage_percent` averages
                                      above CPU_THRESHOLD_PERCENT (80) in every 5-minute
                                      bucket covering the last CPU_WINDOW_SECONDS (5 min),
                                      with no gap (the bucket in progress may still be empty)
  alert_spam_spike          info      counter `spam_reports` in the last hour is at least
                                      SPAM_SPIKE_FACTOR (3x, i.e. up 200%) the hourly average
                                      of the previous 24 hours, and at least
                                      SPAM_SPIKE_MIN_REPORTS (10)
  alert_federation_failures warning   counter `federation_failed_deliveries` in the last hour
                                      above FEDERATION_FAILURES_MAX (50), or (from
                                      FEDERATION_FAILURES_MIN_FOR_RATIO = 10 failures on)
                                      above FEDERATION_FAILURE_RATIO (10%) of
                                      `federation_messages_sent` in the same hour
  alert_storage_latency     warning   the health probe of DynamoDB or S3 took more than
                                      STORAGE_LATENCY_MS (500 ms); critical when a probe
                                      failed. Fires only once the condition has held for
                                      STORAGE_LATENCY_FOR_SECONDS (60 s: two evaluations a
                                      minute apart), so one slow cold connection is no alert
  alert_worker_stale        warning   the chat server's last status push (or, if it never
                                      pushed, the deployment's bootstrap) is more than
                                      WORKER_STALE_WARNING_SECONDS (5 min) old; critical
                                      after WORKER_STALE_CRITICAL_SECONDS (30 min)

`plan()` turns a verdict and the alert's stored state into the one change to write: an
alert keeps its `started_at` while it stays active, and applying a plan's result again
plans no change (the scheduled evaluation is idempotent).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)  # most urgent first: the listing's order

BUCKET_SECONDS = 300  # the metric store's finest buckets

CPU_THRESHOLD_PERCENT = 80
CPU_WINDOW_SECONDS = 300

SPAM_SPIKE_FACTOR = 3.0
SPAM_SPIKE_MIN_REPORTS = 10
SPAM_BASELINE_HOURS = 24

FEDERATION_FAILURES_MAX = 50
FEDERATION_FAILURE_RATIO = 0.10
FEDERATION_FAILURES_MIN_FOR_RATIO = 10

STORAGE_LATENCY_MS = 500
STORAGE_LATENCY_FOR_SECONDS = 60

WORKER_STALE_WARNING_SECONDS = 300
WORKER_STALE_CRITICAL_SECONDS = 1800


@dataclass(frozen=True)
class Bucket:
    """One 5-minute bucket of a gauge: its start, mean of the samples and latest sample."""
    start: int
    mean: float
    last: float | None = None


@dataclass(frozen=True)
class Probe:
    """A storage probe: which store, whether it answered, how fast, why not."""
    name: str                # "DynamoDB" | "S3"
    ok: bool
    latency_ms: float | None
    error: str | None = None


@dataclass(frozen=True)
class Inputs:
    now: int
    cpu: tuple[Bucket, ...] = ()          # cpu_usage_percent, 5-minute buckets
    spam_last_hour: float = 0
    spam_previous_24h: float = 0
    federation_sent_last_hour: float = 0
    federation_failed_last_hour: float = 0
    probes: tuple[Probe, ...] = ()
    worker_reported_at: int | None = None  # receive time of the chat server's last push
    deployed_at: int | None = None         # bootstrap time: staleness counts from it


@dataclass(frozen=True)
class Finding:
    firing: bool
    message: str = ""
    details: dict = field(default_factory=dict)
    severity: str | None = None  # None: the rule's own


QUIET = Finding(False)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    component: str
    evaluate: Callable[[Inputs], Finding]
    for_seconds: int = 0  # how long the condition must hold before the alert fires


def _bucket_start(ts: int) -> int:
    return ts - ts % BUCKET_SECONDS


def number_arg(value: float):
    value = round(float(value), 1)
    return int(value) if value.is_integer() else value


def high_cpu(inputs: Inputs) -> Finding:
    first = _bucket_start(inputs.now - CPU_WINDOW_SECONDS)
    window = sorted((b for b in inputs.cpu if first <= b.start <= inputs.now),
                    key=lambda b: b.start)
    if not window or window[0].start != first:
        return QUIET  # no data reaching back to the window's start
    starts = [b.start for b in window]
    if any(later - earlier != BUCKET_SECONDS for earlier, later in zip(starts, starts[1:])):
        return QUIET
    if not all(b.mean > CPU_THRESHOLD_PERCENT for b in window):
        return QUIET
    newest = window[-1]
    current = newest.last if newest.last is not None else newest.mean
    return Finding(True, f"CPU usage above {CPU_THRESHOLD_PERCENT}% for "
                         f"{CPU_WINDOW_SECONDS // 60} minutes",
                   {"cpu_usage": number_arg(current), "threshold": CPU_THRESHOLD_PERCENT})


def spam_spike(inputs: Inputs) -> Finding:
    current = inputs.spam_last_hour
    average = inputs.spam_previous_24h / SPAM_BASELINE_HOURS
    if current < SPAM_SPIKE_MIN_REPORTS or current < SPAM_SPIKE_FACTOR * average:
        return QUIET
    if average > 0:
        message = f"Spam reports increased {round((current / average - 1) * 100)}% in last hour"
    else:
        message = f"Spam reports increased from none to {number_arg(current)} in last hour"
    return Finding(True, message, {"current_rate": number_arg(current),
                                   "average_rate": number_arg(average)})


def federation_failures(inputs: Inputs) -> Finding:
    failed, sent = inputs.federation_failed_last_hour, inputs.federation_sent_last_hour
    rate = failed / sent if sent > 0 else None
    by_count = failed > FEDERATION_FAILURES_MAX
    by_ratio = failed >= FEDERATION_FAILURES_MIN_FOR_RATIO and (
        rate is None or rate > FEDERATION_FAILURE_RATIO)
    if not (by_count or by_ratio):
        return QUIET
    return Finding(True, f"{number_arg(failed)} failed federation deliveries in last hour",
                   {"failed_deliveries": number_arg(failed), "messages_sent": number_arg(sent),
                    "failure_rate_percent": None if rate is None else number_arg(rate * 100),
                    "threshold": FEDERATION_FAILURES_MAX,
                    "threshold_rate_percent": number_arg(FEDERATION_FAILURE_RATIO * 100)})


def storage_latency(inputs: Inputs) -> Finding:
    down = [p for p in inputs.probes if not p.ok]
    slow = [p for p in inputs.probes
            if p.ok and p.latency_ms is not None and p.latency_ms > STORAGE_LATENCY_MS]
    if not down and not slow:
        return QUIET
    details = {"threshold_ms": STORAGE_LATENCY_MS}
    for p in inputs.probes:
        latency = None if p.latency_ms is None else number_arg(p.latency_ms)
        details[f"{p.name.lower()}_latency_ms"] = latency
        if p.error:
            details[f"{p.name.lower()}_error"] = p.error
    if down:
        return Finding(True, " and ".join(p.name for p in down) + " unreachable", details,
                       severity=CRITICAL)
    return Finding(True, " and ".join(p.name for p in slow)
                   + f" latency above {STORAGE_LATENCY_MS} ms", details)


def worker_stale(inputs: Inputs) -> Finding:
    since = inputs.worker_reported_at
    if since is None:
        since = inputs.deployed_at
    if since is None:
        return QUIET
    age = inputs.now - since
    if age <= WORKER_STALE_WARNING_SECONDS:
        return QUIET
    critical = age > WORKER_STALE_CRITICAL_SECONDS
    if inputs.worker_reported_at is None:
        message = f"Chat server has not reported its status since deployment ({age // 60} minutes)"
    else:
        message = f"Chat server status not reported for {age // 60} minutes"
    return Finding(True, message,
                   {"last_reported_at": inputs.worker_reported_at, "stale_seconds": age,
                    "threshold_seconds": WORKER_STALE_CRITICAL_SECONDS if critical
                    else WORKER_STALE_WARNING_SECONDS},
                   severity=CRITICAL if critical else None)


RULES: tuple[Rule, ...] = (
    Rule("alert_high_cpu", WARNING, "server", high_cpu),
    Rule("alert_spam_spike", INFO, "moderation", spam_spike),
    Rule("alert_federation_failures", WARNING, "federation", federation_failures),
    Rule("alert_storage_latency", WARNING, "storage", storage_latency,
         for_seconds=STORAGE_LATENCY_FOR_SECONDS),
    Rule("alert_worker_stale", WARNING, "chat_server", worker_stale),
)
RULE_IDS = tuple(r.id for r in RULES)


def evaluate(inputs: Inputs, rules: tuple[Rule, ...] = RULES) -> list[tuple[Rule, Finding]]:
    return [(rule, rule.evaluate(inputs)) for rule in rules]


# --- how a stored alert follows the verdicts -------------------------------------------

@dataclass(frozen=True)
class State:
    """What the Alert table holds for one rule."""
    active: bool = False
    started_at: int | None = None
    severity: str | None = None
    component: str | None = None
    message: str | None = None
    details: dict = field(default_factory=dict)
    pending_since: int | None = None
    cleared_at: int | None = None


# The changes plan() may ask for (each one conditional write in chat/health/alerts.py):
NONE = "none"          # nothing to write
PEND = "pend"          # condition seen; wait for the rule's for_seconds
UNPEND = "unpend"      # condition gone before it fired
ACTIVATE = "activate"  # fire, started_at = now (or when the condition was first seen)
UPDATE = "update"      # still firing: new severity/message/details, same started_at
CLEAR = "clear"        # stopped firing: no longer active, cleared_at = now


def plan(rule: Rule, finding: Finding, state: State | None, now: int) -> tuple[str, State]:
    """The one change to make, and the state after it."""
    state = state or State()
    if not finding.firing:
        if state.active:
            return CLEAR, replace(state, active=False, cleared_at=now, pending_since=None)
        if state.pending_since is not None:
            return UNPEND, replace(state, pending_since=None)
        return NONE, state
    shown = dict(severity=finding.severity or rule.severity, component=rule.component,
                 message=finding.message, details=dict(finding.details))
    if state.active:
        current = dict(severity=state.severity, component=state.component,
                       message=state.message, details=state.details)
        if current == shown:
            return NONE, state
        return UPDATE, replace(state, **shown)
    if rule.for_seconds:
        if state.pending_since is None:
            return PEND, replace(state, pending_since=now)
        if now - state.pending_since < rule.for_seconds:
            return NONE, state
        return ACTIVATE, replace(state, active=True, started_at=state.pending_since,
                                 cleared_at=None, pending_since=None, **shown)
    return ACTIVATE, replace(state, active=True, started_at=now, cleared_at=None,
                             pending_since=None, **shown)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
