"""Every SQS queue, declared once, and sending to them.

Two queues. "work" carries long work that must start within seconds: a requested job
(an import, a restore, a root checkpoint, a backup) and the next slice of a long job.
"timers" carries short work due at a moment, sent with `DelaySeconds` (at most 15
minutes ahead): a listener delivery and its retries, a scheduled event come due, a saga
step and its timeout; work due later waits in DynamoDB under an index by due time until
a scheduled function hands it to this queue. Messages are JSON objects
`{"task": <name>, ...}`; chalicelib.features routes each task to the function that does
it. The Chalice functions `work_queue` and `timers_queue` (app.py) consume them in AWS;
`make run` polls them and calls the same function (local/consumer.py), as Lambda would.

A message the consumer fails on comes back after the visibility timeout and, after
MAX_RECEIVES receipts, moves to the queue's dead-letter queue ("<name>-dead"), kept 14
days. Every task is idempotent (its record is claimed with a conditional write), so a
message delivered twice does the work once."""
from __future__ import annotations

import json
from functools import lru_cache

from chalicelib.core import settings

# logical name -> what it carries
QUEUES = {
    "work": "jobs to start or continue",
    "timers": "deliveries, scheduled events and saga steps due within 15 minutes",
}
DEAD_LETTER_SUFFIX = "-dead"
MAX_RECEIVES = 5
# Lambda requires a queue's visibility timeout of at least its consumer's timeout.
CONSUMER_TIMEOUT_SECONDS = {"work": 900, "timers": 60}
VISIBILITY_SECONDS = {name: t + 60 for name, t in CONSUMER_TIMEOUT_SECONDS.items()}
RETENTION_SECONDS = 4 * 24 * 3600
DEAD_RETENTION_SECONDS = 14 * 24 * 3600
MAX_DELAY_SECONDS = 900                 # SQS's limit on DelaySeconds


def queue_name(logical: str) -> str:
    if logical not in QUEUES:
        raise KeyError(logical)
    return settings.get().queue_prefix + logical


def dead_letter_name(logical: str) -> str:
    return queue_name(logical) + DEAD_LETTER_SUFFIX


@lru_cache(maxsize=None)
def queue_url(name: str) -> str:
    from chalicelib.store import aws
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def send(logical: str, message: dict, delay_seconds: int = 0) -> None:
    """Put one message on a queue, visible after `delay_seconds` (at most 15 minutes)."""
    from chalicelib.store import aws
    aws.client("sqs").send_message(
        QueueUrl=queue_url(queue_name(logical)),
        MessageBody=json.dumps(message, separators=(",", ":")),
        DelaySeconds=max(0, min(int(delay_seconds), MAX_DELAY_SECONDS)))


def offer(logical: str, message: dict, delay_seconds: int = 0) -> bool:
    """`send`, for work a sweeper also finds: if the queue cannot be reached the failure
    is logged, not raised (the record stays pending and the sweeper sends it later)."""
    try:
        send(logical, message, delay_seconds)
        return True
    except Exception:  # noqa: BLE001 - the sweeper re-sends what was not sent
        from chalicelib.core.observability import logger
        logger.exception("could not queue work", extra={"queued": message})
        return False


def create_all() -> None:
    """Each queue with its dead-letter queue and redrive policy (local stack and tests;
    in AWS, scripts/gen_infra.py declares the same)."""
    from chalicelib.store import aws
    sqs = aws.client("sqs")
    for logical in QUEUES:
        dead_url = sqs.create_queue(QueueName=dead_letter_name(logical), Attributes={
            "MessageRetentionPeriod": str(DEAD_RETENTION_SECONDS)})["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sqs.create_queue(QueueName=queue_name(logical), Attributes={
            "VisibilityTimeout": str(VISIBILITY_SECONDS[logical]),
            "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn,
                                         "maxReceiveCount": str(MAX_RECEIVES)})})


def reset() -> None:
    queue_url.cache_clear()


def _register() -> None:
    from chalicelib.core import caches
    caches.register("queue_urls", reset)


_register()
