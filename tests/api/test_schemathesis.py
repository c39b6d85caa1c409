"""schemathesis over every operation of /openapi.json, in-process: positive and negative
examples, each authenticated as its operation's security says (an operator token, the node
secret, an admin-scope API key of a real instance), every built-in check. The example count
and the seed are fixed, so CI time stays predictable and a failure replays."""
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import app  # noqa: F401 - registers every route the document describes
from chalicelib.http.openapi import document
from testing import schema_client
from testing.specs import ORDER_SPEC
from testing.stack import NODE_SECRET, bootstrapped

schema = schemathesis.openapi.from_dict(document())
EXAMPLES = 15


class World:
    """One bootstrapped stack with an instance holding a spec, keys and events."""

    def __init__(self, stack, session):
        self.stack, self.session = stack, session
        self.token = stack.operator_token()
        self.instance = stack.call("POST", "/api/instances", self.token,
                                   body={"name": "fuzzed"}).json["id"]
        stack.call("POST", f"/api/instances/{self.instance}/spec", self.token,
                   body={"environment": "prod", "spec": ORDER_SPEC})
        self.api_key = self.new_key("admin")
        stack.call("POST", "/data/order/o1/created", body={
            "data": {"customer": "c1", "total": 3}, "metadata": {"actor": {"type": "user",
                                                                          "id": "u1"}}},
                   headers={"Authorization": f"Bearer {self.api_key}"})

    def new_key(self, scope="write", key_id=False):
        made = self.stack.call("POST", f"/api/instances/{self.instance}/keys", self.token,
                               body={"name": "fuzz", "scope": scope, "environment": "prod"})
        return made.json["id"] if key_id else made.json["key"]

    def prepare(self, case) -> None:
        """Real ids for the path parameters naming our own things, so that examples reach
        the handlers instead of stopping at 404."""
        params = case.path_parameters or {}
        if "instance_id" in params:
            params["instance_id"] = self.instance
        if "agg_type" in params:
            params["agg_type"] = "order"
        if "key_id" in params:  # rotate and revoke spend the key: one of its own each time
            params["key_id"] = self.new_key(key_id=True)

    def credentials(self, operation) -> tuple[str, str] | None:
        """(header, value) for the operation's security scheme."""
        schemes = {name for req in operation.definition.raw.get("security", []) for name in req}
        if "adminToken" in schemes:  # logout and refresh spend a session: a fresh one
            fresh = operation.path in ("/admin/v1/auth/logout", "/admin/v1/auth/refresh")
            return "Authorization", f"Bearer {self.stack.operator_token() if fresh else self.token}"
        if "apiKey" in schemes:
            return "Authorization", f"Bearer {self.api_key}"
        if "nodeSecret" in schemes:
            return "X-Node-Secret", NODE_SECRET
        return None


WORLD: list[World] = []  # the module's world, for the auth provider schemathesis makes


@schema.auth(refresh_interval=None)
class Credentials:
    """Explicit credentials: schemathesis's auth checks then probe without them and with
    invalid ones, and expect 401."""

    def get(self, case, _ctx):
        return WORLD[0].credentials(case.operation) if WORLD else None

    def set(self, case, data, _ctx):
        header, value = data
        case.headers = {**(case.headers or {}), header: value}


@pytest.fixture(scope="module")
def world(aws_mock):
    with bootstrapped() as stack, schema_client.routed_to(stack.client) as session:
        WORLD[:] = [World(stack, session)]
        yield WORLD[0]
        WORLD.clear()


# Refusals of schema-valid requests for a reason no schema can state: the request's own
# fields against each other, against the clock, against state (a cursor only its listing
# gave out; the deployed spec's event types and data rules; a spec's own grammar, which
# the validator checks and names by path). Each is a documented 4xx, and nothing else is
# let through: any other refusal of a schema-valid request fails the run.
def _beyond_schema(method: str, path: str, status: int, answer: dict) -> bool:
    details = answer.get("details") or []
    paths = {d.get("path", "") for d in details if isinstance(d, dict)}
    messages = " ".join(str(d.get("message", "")) for d in details if isinstance(d, dict))
    if status == 400 and details and paths == {"cursor"}:
        return True                                     # state: an opaque cursor
    if status == 400 and ("must be in the future" in messages
                          or "must be between 1970-01-01T00:00:00Z" in messages):
        return True                                     # the clock (and its range in UTC)
    if status == 400 and "must not be after until" in messages:
        return True                                     # fields against each other
    if path == "/internal/metrics" and status == 400 and paths and all(
            p.endswith(".timestamp") for p in paths):
        return True                                     # the clock: a sample's age
    if path == "/admin/v1/config" and status == 400 and "must not exceed" in messages:
        return True                                     # tier limits against each other
    if path.startswith("/data/") and method == "POST" and status == 422:
        return True                                     # the deployed spec
    if "checkpoint" in path and status == 422 and answer.get("error") == "UNKNOWN_AGGREGATE_TYPE":
        return True                                     # the deployed spec's types
    if "/tombstone/" in path and answer.get("error") in (
            "UNKNOWN_AGGREGATE_TYPE", "INVALID_ID", "GRACE_PERIOD_TOO_SHORT", "TOMBSTONE_EXISTS"):
        return True                         # the deployed spec, the grace setting, state
    return path.endswith("/spec") and status == 422 and answer.get("error") == "INVALID_SPEC"


def accepts_what_it_declares(ctx, response, case):
    """schemathesis's positive_data_acceptance, but for the refusals above."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Exception:
        try:
            answer = json.loads(response.content or b"{}")
        except ValueError:
            raise
        if not (isinstance(answer, dict) and _beyond_schema(
                case.method, case.operation.path, response.status_code, answer)):
            raise
        return None


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, world):
    world.prepare(case)
    transport = {"base_url": schema_client.BASE_URL, "session": world.session}
    response = case.call(**transport)
    case.validate_response(response, excluded_checks=[positive_data_acceptance],
                           additional_checks=[accepts_what_it_declares],
                           transport_kwargs=transport)
