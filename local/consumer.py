"""Consuming the queues outside AWS, as Lambda's event source mapping would: receive
a message, hand its body to chalicelib.features.handle_message (what app.work_queue
does in AWS), delete it when that returns; when it raises, the message comes back after
LOCAL_VISIBILITY_SECONDS (not the queue's 16 minutes, so a local retry is prompt) and,
after queues.MAX_RECEIVES receipts, the queue's redrive policy moves it to the
dead-letter queue. `make run` runs CONSUMERS threads of `consume`; tests call
`drain` to run every message now. Each queue ("work", "timers") has its own consumers.
"""
from __future__ import annotations

import threading
import time
import traceback

LOCAL_VISIBILITY_SECONDS = 5
CONSUMERS = 2          # Lambda runs messages in parallel; so does the local stack


def _queue(logical: str):
    from chalicelib.store import aws, queues
    return aws.client("sqs"), queues.queue_url(queues.queue_name(logical))


def poll_once(wait_seconds: int = 0, log=None, queue: str = "work") -> int:
    """Receive and handle at most one message; how many were handled (0 or 1)."""
    from chalicelib import features
    sqs, url = _queue(queue)
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                 WaitTimeSeconds=wait_seconds,
                                 VisibilityTimeout=LOCAL_VISIBILITY_SECONDS)
    handled = 0
    for message in answer.get("Messages", []):
        started = time.monotonic()
        try:
            outcome = features.handle_message(message["Body"])
        except Exception as exc:  # noqa: BLE001 - as Lambda: the message comes back
            if log:
                last = traceback.extract_tb(exc.__traceback__)[-1:] or None
                where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
                log(f"[queue] task FAILED in {time.monotonic() - started:.2f}s: "
                    f"{type(exc).__name__}: {exc}{where}")
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        handled += 1
        if log:
            log(f"[queue] {message['Body'][:120]} -> {outcome} "
                f"in {time.monotonic() - started:.2f}s")
    return handled


POLL_SECONDS = 0.25


def consume(stop: threading.Event, log=None, queue: str = "work") -> None:
    """Short polls, a pause between empty ones: the embedded AWS serves one request at a
    time, so a long poll (WaitTimeSeconds) would hold every other request back."""
    while not stop.is_set():
        try:
            if not poll_once(wait_seconds=0, log=log, queue=queue):
                stop.wait(POLL_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the embedded AWS may be stopping
            if log and not stop.is_set():
                log(f"[queue] receive failed: {type(exc).__name__}: {exc}")
            stop.wait(1.0)


def drain(max_messages: int = 1000, queue: str = "work") -> int:
    """Handle messages until the queue has none visible (tests); how many were handled.
    A message whose task raises stays on the queue (invisible for a few seconds)."""
    total = 0
    for _ in range(max_messages):
        if not poll_once(wait_seconds=0, queue=queue):
            break
        total += 1
    return total
