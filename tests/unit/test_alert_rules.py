"""The alert rules and the alert state machine (domain/alert_rules.py): pure."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import alert_rules as r

NOW = 1_759_000_010  # 10 s into a 5-minute bucket
CURRENT = NOW - NOW % 300


def cpu(values, first=CURRENT - 300):
    return tuple(r.Bucket(first + 300 * i, v, v) for i, v in enumerate(values))


def test_rules_are_well_formed():
    assert len(set(r.RULE_IDS)) == len(r.RULES) >= 5
    assert {"alert_high_cpu", "alert_spam_spike", "alert_federation_failures",
            "alert_storage_latency", "alert_worker_stale"} <= set(r.RULE_IDS)
    assert all(rule.severity in r.SEVERITIES for rule in r.RULES)
    assert sorted(r.SEVERITIES, key=r.severity_rank) == ["critical", "warning", "info"]


# --- high CPU ---------------------------------------------------------------------------

def test_cpu_seed_example():
    finding = r.high_cpu(r.Inputs(now=NOW, cpu=cpu([85.0, 85.3])))
    assert finding.firing
    assert finding.message == "CPU usage above 80% for 5 minutes"
    assert finding.details == {"cpu_usage": 85.3, "threshold": 80}


@given(st.lists(st.floats(0, 100), min_size=1, max_size=2))
def test_cpu_fires_iff_every_bucket_of_the_window_is_above_80(values):
    assert r.high_cpu(r.Inputs(now=NOW, cpu=cpu(values))).firing == all(v > 80 for v in values)


@pytest.mark.parametrize("buckets", [
    cpu([95.0], first=CURRENT),            # data starts inside the window: not 5 minutes yet
    cpu([95.0, 95.0], first=CURRENT - 900),  # both buckets too old
    cpu([95.0], first=CURRENT - 600) + cpu([95.0], first=CURRENT),  # window start missing
    (),
])
def test_cpu_needs_data_covering_the_whole_window(buckets):
    assert not r.high_cpu(r.Inputs(now=NOW, cpu=buckets)).firing


def test_cpu_exactly_at_threshold_does_not_fire():
    assert not r.high_cpu(r.Inputs(now=NOW, cpu=cpu([80.0, 80.0]))).firing


def test_cpu_window_on_a_bucket_boundary():
    now = CURRENT  # the window is exactly the previous bucket; the new one may be empty
    assert r.high_cpu(r.Inputs(now=now, cpu=cpu([90.0]))).firing


# --- spam spike -------------------------------------------------------------------------

def test_spam_seed_example():
    finding = r.spam_spike(r.Inputs(now=NOW, spam_last_hour=30, spam_previous_24h=240))
    assert finding.firing
    assert finding.message == "Spam reports increased 200% in last hour"
    assert finding.details == {"current_rate": 30, "average_rate": 10}


@given(st.integers(0, 500), st.integers(0, 5000))
def test_spam_fires_iff_up_200_percent_and_above_minimum(current, previous):
    finding = r.spam_spike(r.Inputs(now=NOW, spam_last_hour=current, spam_previous_24h=previous))
    expected = current >= r.SPAM_SPIKE_MIN_REPORTS and current * 24 >= 3 * previous
    assert finding.firing == expected


def test_spam_from_nothing():
    finding = r.spam_spike(r.Inputs(now=NOW, spam_last_hour=12, spam_previous_24h=0))
    assert finding.firing and finding.details == {"current_rate": 12, "average_rate": 0}
    assert not r.spam_spike(r.Inputs(now=NOW, spam_last_hour=9, spam_previous_24h=0)).firing


# --- federation failures ----------------------------------------------------------------

@pytest.mark.parametrize("failed,sent,fires", [
    (51, 100_000, True),   # above the absolute threshold
    (50, 100_000, False),
    (11, 100, True),       # above 10% of messages sent
    (10, 100, False),      # exactly 10%
    (9, 10, False),        # too few failures for the ratio to count
    (12, 0, True),         # failures and nothing delivered
    (0, 0, False),
])
def test_federation_failures(failed, sent, fires):
    finding = r.federation_failures(r.Inputs(now=NOW, federation_failed_last_hour=failed,
                                             federation_sent_last_hour=sent))
    assert finding.firing is fires
    if fires:
        assert finding.details["failed_deliveries"] == failed
        assert finding.message == f"{failed} failed federation deliveries in last hour"


# --- storage latency --------------------------------------------------------------------

def probes(db=(True, 5), s3=(True, 7)):
    return (r.Probe("DynamoDB", db[0], db[1], None if db[0] else "Connection timeout"),
            r.Probe("S3", s3[0], s3[1], None if s3[0] else "NoSuchBucket"))


def test_storage_latency():
    assert not r.storage_latency(r.Inputs(now=NOW, probes=probes())).firing
    assert not r.storage_latency(r.Inputs(now=NOW, probes=probes(db=(True, 500)))).firing
    slow = r.storage_latency(r.Inputs(now=NOW, probes=probes(db=(True, 501))))
    assert slow.firing and slow.severity is None  # the rule's own: warning
    assert slow.message == "DynamoDB latency above 500 ms"
    assert slow.details == {"threshold_ms": 500, "dynamodb_latency_ms": 501, "s3_latency_ms": 7}
    down = r.storage_latency(r.Inputs(now=NOW, probes=probes(s3=(False, None), db=(True, 900))))
    assert down.firing and down.severity == "critical" and down.message == "S3 unreachable"
    assert down.details["s3_error"] == "NoSuchBucket" and down.details["s3_latency_ms"] is None


# --- stale chat server status -----------------------------------------------------------

@pytest.mark.parametrize("age,severity", [(0, None), (300, None), (301, "warning"),
                                          (1800, "warning"), (1801, "critical")])
def test_worker_stale(age, severity):
    finding = r.worker_stale(r.Inputs(now=NOW, worker_reported_at=NOW - age, deployed_at=0))
    assert finding.firing is (severity is not None)
    if severity:
        rule = next(x for x in r.RULES if x.id == "alert_worker_stale")
        assert (finding.severity or rule.severity) == severity
        assert finding.details["last_reported_at"] == NOW - age


def test_worker_never_reported_counts_from_deployment():
    assert not r.worker_stale(r.Inputs(now=NOW, deployed_at=NOW - 300)).firing
    finding = r.worker_stale(r.Inputs(now=NOW, deployed_at=NOW - 600))
    assert finding.firing and finding.details["last_reported_at"] is None
    assert not r.worker_stale(r.Inputs(now=NOW)).firing


# --- the state machine ------------------------------------------------------------------

RULE = r.Rule("alert_test", r.WARNING, "test", lambda i: r.QUIET)
HELD = r.Rule("alert_held", r.WARNING, "test", lambda i: r.QUIET, for_seconds=60)

findings = st.one_of(
    st.just(r.QUIET),
    st.builds(r.Finding, firing=st.just(True), message=st.sampled_from(["a", "b"]),
              details=st.fixed_dictionaries({"v": st.integers(0, 2)}),
              severity=st.sampled_from([None, r.CRITICAL])))


@given(st.sampled_from([RULE, HELD]),
       st.lists(st.tuples(findings, st.integers(1, 120)), max_size=30))
def test_plan_keeps_started_at_and_is_idempotent(rule, steps):
    state, now = None, 1000
    firing_since = None  # when the current run of firing findings began
    for finding, gap in steps:
        now += gap
        change, after = r.plan(rule, finding, state, now)
        # applying the same verdict again changes nothing
        assert r.plan(rule, finding, after, now)[0] == r.NONE
        if finding.firing:
            firing_since = firing_since or now
            if state is not None and state.active:
                assert after.active and after.started_at == state.started_at
                assert change in (r.NONE, r.UPDATE)
            if after.active:
                assert after.message == finding.message and after.details == finding.details
                assert after.severity == (finding.severity or rule.severity)
                assert after.started_at == firing_since
                assert now - firing_since >= rule.for_seconds
            else:
                assert rule.for_seconds and now - firing_since < rule.for_seconds
        else:
            firing_since = None
            assert not after.active and after.pending_since is None
            if state is not None and state.active:
                assert change == r.CLEAR and after.cleared_at == now
        state = after


def test_plan_reactivation_gets_a_new_started_at():
    firing = r.Finding(True, "m", {})
    _, state = r.plan(RULE, firing, None, 100)
    _, state = r.plan(RULE, r.QUIET, state, 200)
    change, state = r.plan(RULE, firing, state, 300)
    assert change == r.ACTIVATE and state.started_at == 300 and state.cleared_at is None
