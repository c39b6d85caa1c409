"""Structured logs carry the Lambda request id (Powertools Logger through middleware)."""
import io
import json

import pytest

from chalicelib.core.observability import logger


@pytest.fixture
def log_lines(monkeypatch):
    buffer = io.StringIO()
    handler = logger.registered_handler
    monkeypatch.setattr(handler, "stream", buffer)
    logger.setLevel("INFO")
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    logger.setLevel("CRITICAL")


def test_scheduled_job_logs_with_request_id(stack, log_lines):
    event = stack.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                  detail={}, resources=[])
    stack.client.lambda_.invoke("job_key_revocations", event)
    (line,) = [entry for entry in log_lines() if entry.get("job") == "key_revocations"]
    assert line["function_request_id"] and line["function_name"] == "job_key_revocations"
    assert line["service"] == "adminplane"


def test_crash_is_logged_with_error_id_and_request_id(stack, log_lines, monkeypatch):
    from chalicelib.platform.instances import service as instances
    token = stack.operator_token()
    monkeypatch.setattr(instances, "list_all", lambda: 1 / 0)
    answer = stack.call("GET", "/api/instances", token)
    assert answer.status == 500
    (line,) = [entry for entry in log_lines() if entry.get("error_id")]
    assert line["error_id"] == answer.json["error_id"]
    assert line["function_request_id"] and "ZeroDivisionError" in line["exception"]
