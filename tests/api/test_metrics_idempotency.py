"""POST /internal/metrics with X-Idempotency-Key: a retried push counts once, in the same
TransactWriteItems as its counters (metric_store.record_once)."""
from unittest import mock

import pytest

from chalicelib.chat.metrics import service as metrics
from chalicelib.core import clock
from chalicelib.store import metric_store
from chalicelib.store.tables import IdempotencyRecord, MetricBucket
from testing.aws_calls import operations, recording
from tests.api.conftest import NODE_SECRET

KEY = "push-0001"


def s(name, value, kind, ts=None):
    sample = {"name": name, "value": value, "kind": kind}
    if ts is not None:
        sample["timestamp"] = ts
    return sample


def push(stack, samples, key=KEY):
    headers = {"X-Node-Secret": NODE_SECRET}
    if key is not None:
        headers["X-Idempotency-Key"] = key
    return stack.call("POST", "/internal/metrics", body={"samples": samples}, headers=headers)


def past_bucket(minutes_ago=20):
    return metric_store.bucket_start(clock.now() - minutes_ago * 60, "5m")


def bucket(name, start):
    return MetricBucket.get(metric_store.series_key(name, "5m"), start, consistent_read=True)


def transactions(calls):
    return [params for op, params in calls if op == "TransactWriteItems"]


def test_a_replayed_push_counts_once_and_answers_the_first_answer(stack):
    t = past_bucket()
    samples = [s("messages_sent", 3, "counter", t + 1), s("messages_received", 2, "counter", t + 2),
               s("websocket_connections", 40, "gauge", t + 3)]
    with recording() as calls:
        first = push(stack, samples)
    assert first.status == 202 and first.json == {"accepted": 3}
    [tx] = transactions(calls)  # the counters, the hour's mark and the key: one write
    assert len(tx["TransactItems"]) == 3 + 1 + 1
    assert "UpdateItem" not in operations(calls)
    for _ in range(3):  # the data plane's clients retry up to 3 times
        again = push(stack, samples)
        assert again.status == 202
        assert again.json == {"accepted": 3, "idempotent_replay": True}
    assert bucket("messages_sent", t).total == 3 and bucket("messages_sent", t).count == 1
    assert bucket("messages_received", t).total == 2
    assert bucket("websocket_connections", t).last == 40
    assert bucket("websocket_connections", t).count == 1
    pending = MetricBucket.get(metric_store.PENDING["1h"], metric_store.bucket_start(t, "1h"))
    assert pending.total == 1
    record = IdempotencyRecord.get("metrics#" + KEY)
    assert record.ttl == record.created_at + 86400


def test_totals_through_the_timeseries_route_count_a_replay_once(stack):
    token = stack.token_with(["view_metrics"])
    t = past_bucket()
    samples = [s("messages_sent", 5, "counter", t + 10)]
    assert push(stack, samples).status == 202
    assert push(stack, samples).status == 202
    assert push(stack, samples, key="push-0002").status == 202  # another push: counts
    answer = stack.call("GET", "/admin/v1/metrics/timeseries?metric=messages_sent&period=1h",
                        token)
    assert answer.status == 200, answer
    assert answer.json["aggregate"]["total"] == 10


def test_the_same_key_with_another_body_is_422_and_writes_nothing(stack):
    t = past_bucket()
    assert push(stack, [s("messages_sent", 3, "counter", t + 1)]).status == 202
    answer = push(stack, [s("messages_sent", 4, "counter", t + 1)])
    assert answer.status == 422 and answer.json["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert bucket("messages_sent", t).total == 3


def test_a_push_without_a_key_is_written_as_before(stack):
    t = past_bucket()
    samples = [s("messages_sent", 3, "counter", t + 1)]
    with recording() as calls:
        assert push(stack, samples, key=None).json == {"accepted": 1}
    assert "TransactWriteItems" not in operations(calls)
    push(stack, samples, key=None)
    assert bucket("messages_sent", t).total == 6  # no key: no way to tell a retry


@pytest.mark.parametrize("key", ["x" * 129])
def test_a_key_must_be_1_to_128_characters(stack, key):
    answer = push(stack, [s("messages_sent", 1, "counter")], key=key)
    assert answer.status == 400 and answer.json["details"][0]["path"] == "X-Idempotency-Key"
    assert push(stack, [s("messages_sent", 1, "counter")], key="x" * 128).status == 202


def test_a_push_whose_answer_was_lost_counts_once_when_retried(stack):
    """The transaction commits, then the connection drops: the push answers 503 (the
    backend is unreachable) and the chat server sends it again."""
    import botocore.client
    from botocore.exceptions import ReadTimeoutError
    t = past_bucket()
    samples = [s("messages_sent", 7, "counter", t + 5)]
    real = botocore.client.BaseClient._make_api_call
    lost = []

    def flaky(client, operation, params):
        answer = real(client, operation, params)
        if operation == "TransactWriteItems" and not lost:
            lost.append(operation)
            raise ReadTimeoutError(endpoint_url="https://dynamodb")
        return answer

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", flaky):
        first = push(stack, samples)
    assert first.status == 503, first
    assert bucket("messages_sent", t).total == 7  # it was written, though
    retry = push(stack, samples)
    assert retry.status == 202 and retry.json == {"accepted": 1, "idempotent_replay": True}
    assert bucket("messages_sent", t).total == 7


def test_two_concurrent_pushes_with_one_key_count_once(stack):
    """The second push is built while the first commits: its transaction then fails the
    key's condition and nothing of it is applied; it answers the first answer."""
    from chalicelib.store import base
    t = past_bucket()
    samples = [s("messages_sent", 2, "counter", t + 5), s("messages_queued", 9, "gauge", t + 6)]
    real = base.transact_write
    raced, started = [], []

    def interleaved():
        if not started:
            started.append(True)
            raced.append(metrics.ingest(samples, KEY))  # the other container wins the race
        return real()

    with mock.patch.object(base, "transact_write", interleaved):
        answer = push(stack, samples)
    assert raced == [{"accepted": 2}]
    assert answer.status == 202 and answer.json == {"accepted": 2, "idempotent_replay": True}
    assert bucket("messages_sent", t).total == 2
    assert bucket("messages_queued", t).count == 1 and bucket("messages_queued", t).last == 9


def test_a_transaction_conflict_is_retried_and_still_counts_once(stack):
    import botocore.client
    from botocore.exceptions import ClientError
    t = past_bucket()
    samples = [s("messages_sent", 4, "counter", t + 5)]
    real = botocore.client.BaseClient._make_api_call
    conflicts = []

    def busy(client, operation, params):
        if operation == "TransactWriteItems" and len(conflicts) < 2:
            conflicts.append(operation)
            raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                         "Message": "Transaction cancelled"},
                               "CancellationReasons": [{"Code": "None"},
                                                       {"Code": "TransactionConflict"},
                                                       {"Code": "None"}]},
                              operation)
        return real(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", busy):
        assert push(stack, samples).json == {"accepted": 1}
    assert len(conflicts) == 2
    assert bucket("messages_sent", t).total == 4
    assert push(stack, samples).json == {"accepted": 1, "idempotent_replay": True}
    assert bucket("messages_sent", t).total == 4


def test_gauges_keep_the_newest_value_in_keyed_pushes(stack):
    t = past_bucket()
    assert push(stack, [s("messages_queued", 10, "gauge", t + 100)], key="g1").status == 202
    with recording() as calls:  # older, arrives later: its value still counts to the mean
        assert push(stack, [s("messages_queued", 3, "gauge", t + 50),
                            s("messages_sent", 1, "counter", t + 50)], key="g2").status == 202
    assert len(transactions(calls)) == 2  # the gauge's condition failed: sent again without
    got = bucket("messages_queued", t)
    assert got.last == 10 and got.last_ts == t + 100
    assert got.count == 2 and got.total == 13
    assert bucket("messages_sent", t).total == 1  # applied once, not once per attempt
    assert push(stack, [s("messages_queued", 3, "gauge", t + 50),
                        s("messages_sent", 1, "counter", t + 50)], key="g2").json[
        "idempotent_replay"] is True
    assert bucket("messages_queued", t).count == 2


def test_a_large_push_folds_into_one_transaction(stack):
    """500 samples of 13 metrics in one 5-minute bucket: 13 bucket items, 1 hour, 1 key."""
    t = past_bucket()
    names = [n for n in metrics.PUSHED]
    samples = [s(names[i % len(names)], 1, metrics.METRICS[names[i % len(names)]].kind,
                 t + (i % 300)) for i in range(metrics.MAX_SAMPLES)]
    with recording() as calls:
        answer = push(stack, samples)
    assert answer.status == 202 and answer.json == {"accepted": 500}
    [tx] = transactions(calls)
    assert len(tx["TransactItems"]) == len(names) + 2
    assert sum(b.count for n in names for b in [bucket(n, t)]) == 500
    assert push(stack, samples).json["idempotent_replay"] is True
    assert sum(b.count for n in names for b in [bucket(n, t)]) == 500


def test_a_keyed_push_that_cannot_fit_one_transaction_is_400_and_writes_nothing(stack):
    """100 distinct 5-minute buckets of one counter need 100 + 9 hours + 1 items."""
    start = metric_store.bucket_start(clock.now() - 10 * 3600, "5m")
    samples = [s("messages_sent", 1, "counter", start + 300 * i) for i in range(100)]
    answer = push(stack, samples)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"
    assert answer.json["details"][0]["path"] == "samples"
    assert "100 items" in answer.json["message"]
    assert list(MetricBucket.scan()) == []
    assert list(IdempotencyRecord.scan()) == []
    fits = samples[:90]  # 90 buckets + 8 hours + 1 = 99 items
    assert metric_store.transaction_items(metric_store.merge(
        [(x["name"], x["value"], x["kind"], x["timestamp"]) for x in fits])[0]) <= 100
    assert push(stack, fits).json == {"accepted": 90}
    assert push(stack, samples, key=None).json == {"accepted": 100}  # no key: as before


def test_a_replay_answers_the_first_answer_after_its_samples_aged(stack, frozen_clock):
    t = clock.now_int() - metrics.MAX_AGE_SECONDS + 60
    samples = [s("messages_sent", 1, "counter", t)]
    assert push(stack, samples).json == {"accepted": 1}
    clock.advance(120)  # the sample is now more than a day old
    assert push(stack, samples, key="other").status == 400
    assert push(stack, samples).json == {"accepted": 1, "idempotent_replay": True}


def test_a_key_is_remembered_24_hours(stack, frozen_clock):
    samples = [s("messages_sent", 1, "counter")]
    assert push(stack, samples).json == {"accepted": 1}
    clock.advance(86400 - 10)
    assert push(stack, samples).json["idempotent_replay"] is True
    clock.advance(20)  # expired (moto does not apply TTL; the condition checks it)
    assert push(stack, samples).json == {"accepted": 1}
    totals = sum(b.total for b in MetricBucket.scan()
                 if b.series == metric_store.series_key("messages_sent", "5m"))
    assert totals == 2
