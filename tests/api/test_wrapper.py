"""The route wrapper's audit contract, on a throwaway app: the act's note becomes exactly
one entry with the declared action; a route that forgets its note still answers (the act
is done, a retry would repeat it), and the omission is logged, never a 500."""
import io
import json

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from chalicelib.core.observability import logger
from chalicelib.http.declarations import ROUTES
from chalicelib.http.routing import route
from chalicelib.identity import audit
from chalicelib.store.tables import AuditEntry


@pytest.fixture
def tiny_app(stack):
    bp = Blueprint(__name__)
    before = len(ROUTES)
    answer = {"type": "object", "required": ["done"]}

    @route(bp, "/tiny/noted", "POST", summary="noted", permission="manage_ops",
           audit="tiny_noted", response=answer)
    def noted(ctx):
        return {"done": True}, audit.Note("thing-1", {"why": "test"})

    @route(bp, "/tiny/forgot", "POST", summary="forgot", permission="manage_ops",
           audit="tiny_forgot", response=answer)
    def forgot(ctx):
        return {"done": True}

    del ROUTES[before:]  # the throwaway routes stay out of the real route table
    app = Chalice(app_name="tiny")
    app.register_blueprint(bp)
    with Client(app) as client:
        yield client, stack.operator_token()


def post(client, token, path):
    return client.http.post(path, headers={"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"}, body=b"{}")


def test_a_note_becomes_one_entry_with_the_declared_action(tiny_app):
    client, token = tiny_app
    answer = post(client, token, "/tiny/noted")
    assert answer.status_code == 200
    (entry,) = [e for e in AuditEntry.scan() if e.action == "tiny_noted"]
    assert (entry.target, entry.details, entry.admin) == ("thing-1", {"why": "test"},
                                                          "admin@example.com")


def test_a_forgotten_note_answers_and_is_logged(tiny_app, monkeypatch):
    client, token = tiny_app
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    logger.setLevel("ERROR")
    try:
        answer = post(client, token, "/tiny/forgot")
    finally:
        logger.setLevel("CRITICAL")
    assert answer.status_code == 200
    assert not [e for e in AuditEntry.scan() if e.action == "tiny_forgot"]
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    assert [line["route"] for line in lines
            if line["message"] == "audited route answered without an audit note"] == [
        "POST /tiny/forgot"]
