"""Specs and clients written for the hosted platform, exactly as its public pages show
them (the Tick reference, "Getting started", "Batch operations"), deploy and run here
unchanged."""
import pytest

ADMIN = {"actor": {"type": "admin", "id": "550e8400-e29b-41d4-a716-446655440001"}}
USER_ID = "550e8400-e29b-41d4-a716-446655440000"

# "Getting started", verbatim
GETTING_STARTED = {
    "aggregate_types": {
        "user": {
            "events": {
                "was_created": {
                    "schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"},
                                       "email": {"type": "string", "format": "email"}},
                        "required": ["name", "email"],
                    },
                    "handler": [
                        {"set": {"target": "", "value": "$.data"}},
                        {"set": {"target": "created_at", "value": "$.metadata.timestamp"}},
                    ],
                },
                "had_email_updated": {
                    "schema": {"type": "object",
                               "properties": {"email": {"type": "string", "format": "email"}},
                               "required": ["email"]},
                    "handler": [{"merge": {"target": "", "value": "$.data"}}],
                },
            }
        }
    },
    "agent_types": ["user", "admin"],
}

# The Tick reference's forms, one event type each
TICK_FORMS = {
    "aggregate_types": {
        "cart": {"events": {
            "was_created": {"schema": {"type": "object"}, "handler": [
                {"set": {"target": "", "value": "$.data"}},
                {"set": {"target": "status", "value": "active"}},
                {"set": {"target": "nickname", "value": "$.data.nickname?"}},
                {"set": {"target": "key", "value": "$.key"}},
                {"set": {"target": "made_by", "value": "$.metadata.actor.id"}},
            ]},
            "had_item_added": {"schema": {"type": "object"}, "handler": [
                {"append": {"target": "items", "value": {
                    "$merge": [{"$": "$.data"}, {"added_at": {"$": "$.metadata.timestamp"}}]}}},
                {"append_unique": {"target": "tags", "value": "$.data.tag"}},
            ]},
            "had_item_removed": {"schema": {"type": "object"}, "handler": [
                {"remove": {"target": "items", "where": {"id": "$.data.id"}}},
            ]},
            "had_status_changed": {"schema": {"type": "object"}, "handler": [
                {"set": {"target": "previous_status", "value": "@.status"}},
                {"set": {"target": "status", "value": "$.data.status"}},
                {"set": {"target": "profile.last_event", "value": "$.type"}},
            ]},
        }},
    },
    "agent_types": ["user", "admin"],
}


@pytest.fixture
def client(stack):
    """A data-plane client pointed at /data, as one written from the platform's docs."""
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "moved"}).json["id"]

    class Client:
        def deploy(self, spec):
            return stack.call("POST", f"/api/instances/{inst}/spec", token,
                              body={"environment": "prod", "spec": spec})

        def call(self, method, path, body=None):
            return stack.call(method, "/data" + path, body=body,
                              headers={"Authorization": f"Bearer {self.key}"})

    c = Client()
    c.instance = inst
    c.key = stack.call("POST", f"/api/instances/{inst}/keys", token, body={
        "name": "app", "scope": "write", "environment": "prod"}).json["key"]
    return c


def test_the_getting_started_spec_deploys_and_folds(client):
    assert client.deploy(GETTING_STARTED).status in (200, 201)
    made = client.call("POST", f"/user/{USER_ID}/was_created", {
        "data": {"name": "Alice", "email": "alice@example.com"}, "metadata": ADMIN})
    assert made.status == 201 and made.json["ok"] is True, made
    client.call("POST", f"/user/{USER_ID}/had_email_updated", {
        "data": {"email": "alice@new.example"}, "metadata": ADMIN})
    state = client.call("GET", f"/user/{USER_ID}")
    assert state.status == 200, state
    assert state.json["data"]["name"] == "Alice"
    assert state.json["data"]["email"] == "alice@new.example"
    created_at = state.json["data"]["created_at"]
    assert isinstance(created_at, int) and abs(created_at - state.json["metadata"]["created_at"]) < 2


def test_every_value_form_of_the_tick_reference(client):
    assert client.deploy(TICK_FORMS).status in (200, 201)
    cart = f"/cart/{USER_ID}"
    client.call("POST", f"{cart}/was_created", {"data": {"owner": "AGENT0001"}, "metadata": ADMIN})
    for item, tag in (({"id": "a", "qty": 1}, "x"), ({"id": "b", "qty": 2}, "x")):
        added = client.call("POST", f"{cart}/had_item_added",
                            {"data": {**item, "tag": tag}, "metadata": ADMIN})
        assert added.status == 201, added
    client.call("POST", f"{cart}/had_item_removed", {"data": {"id": "a"}, "metadata": ADMIN})
    client.call("POST", f"{cart}/had_status_changed", {"data": {"status": "paid"},
                                                       "metadata": ADMIN})
    state = client.call("GET", cart).json["data"]
    assert state["owner"] == "AGENT0001" and "nickname" not in state    # `?`: missing, skipped
    assert state["key"] == f"cart:{USER_ID}" and state["made_by"] == ADMIN["actor"]["id"]
    assert [i["id"] for i in state["items"]] == ["b"]             # where {"id": ...}
    assert isinstance(state["items"][0]["added_at"], int)         # $merge of {"$": ...}
    assert state["tags"] == ["x"]                                 # append_unique created it
    assert state["previous_status"] == "active" and state["status"] == "paid"  # @.status
    assert state["profile"] == {"last_event": "had_status_changed"}            # $.type


def test_an_optional_value_that_is_present_is_set(client):
    client.deploy(TICK_FORMS)
    client.call("POST", "/cart/C00000002/was_created", {"data": {"nickname": "bob"}, "metadata": ADMIN})
    assert client.call("GET", "/cart/C00000002").json["data"]["nickname"] == "bob"


def test_the_documented_batch_shares_one_metadata(client):
    client.deploy(GETTING_STARTED)
    body = {
        "events": [
            {"type": "was_created", "data": {"name": "Alice", "email": "alice@example.com"}},
            {"type": "had_email_updated", "data": {"email": "alice@new.example"}},
        ],
        "metadata": {**ADMIN, "previous_length": 0},
    }
    answer = client.call("POST", f"/user/{USER_ID}", body)
    assert answer.status == 201, answer
    assert answer.json["ok"] is True and answer.json["count"] == 2
    assert answer.json["stream_ids"] == [f"user/{USER_ID}@0", f"user/{USER_ID}@1"]
    assert "implied_count" not in answer.json
    # one concurrency check for the whole batch: previous_length 0 no longer holds
    again = client.call("POST", f"/user/{USER_ID}", body)
    assert again.status == 409, again
    assert client.call("GET", f"/user/{USER_ID}/length").json["length"] == 2


def test_a_batch_without_any_metadata_is_refused(client):
    client.deploy(GETTING_STARTED)
    answer = client.call("POST", f"/user/{USER_ID}", {"events": [
        {"type": "was_created", "data": {"name": "A", "email": "a@example.com"}}]})
    assert answer.status == 400 and answer.json["ok"] is False, answer
    assert answer.json["details"][0]["path"] == "events.0.metadata"


@pytest.mark.parametrize("op, path, needle", [
    ({"set": {"target": "$.data.x", "value": 1}}, "handler[0].set.target",
     "must be a path into the state"),
    ({"set": {"target": "a b", "value": 1}}, "handler[0].set.target", "is not a supported path"),
    ({"set": {"target": "x", "value": "$.dta.x"}}, "handler[0].set.value", "$.dta is not"),
    ({"set": {"target": "x", "value": {"$": "status"}}}, "handler[0].set.value.$",
     "is not a path"),
    ({"merge": {"target": "", "value": {"$merge": [1]}}}, "handler[0].merge.value.$merge[0]",
     "must be an object"),
    ({"remove": {"target": "items", "where": {"id": "$.nope.id"}}},
     "handler[0].remove.where.id", "$.nope is not"),
])
def test_deploy_names_each_problem_of_the_platform_form_at_its_path(client, op, path, needle):
    spec = {"aggregate_types": {"t": {"events": {"e": {"schema": {"type": "object"},
                                                       "handler": [op]}}}},
            "agent_types": ["admin"]}
    answer = client.deploy(spec)
    assert answer.status == 422, answer
    problems = answer.json["details"]
    assert any(p["path"].endswith(path) and needle in p["message"] for p in problems), problems


def test_the_raw_event_stream_pages_in_order(client):
    client.deploy(GETTING_STARTED)
    assert client.call("GET", f"/user/{USER_ID}/events").status == 404   # nothing written
    client.call("POST", f"/user/{USER_ID}/was_created", {
        "data": {"name": "A", "email": "a@example.com"}, "metadata": ADMIN})
    for i in range(4):
        client.call("POST", f"/user/{USER_ID}/had_email_updated", {
            "data": {"email": f"a{i}@example.com"}, "metadata": ADMIN})
    first = client.call("GET", f"/user/{USER_ID}/events?limit=3")
    assert first.status == 200, first
    assert [e["position"] for e in first.json["events"]] == [0, 1, 2]
    event = first.json["events"][0]
    assert event["type"] == "was_created" and event["data"]["name"] == "A"
    assert event["metadata"]["actor"] == ADMIN["actor"] and event["timestamp"] > 0
    assert event["stream_id"] == f"user/{USER_ID}@0"
    rest = client.call("GET", f"/user/{USER_ID}/events?limit=3&cursor={first.json['next_cursor']}")
    assert [e["position"] for e in rest.json["events"]] == [3, 4]
    assert rest.json["next_cursor"] is None
    assert client.call("GET", f"/user/{USER_ID}/events?cursor=zz").status == 400


def test_a_well_formed_id_never_written_is_404_in_the_data_shape(client):
    client.deploy(GETTING_STARTED)
    answer = client.call("GET", f"/user/{USER_ID}")
    assert answer.status == 404 and answer.json["ok"] is False and answer.json["error"], answer


def test_past_the_write_limit_the_platforms_429(client, monkeypatch, frozen_clock):
    monkeypatch.setenv("RATE_LIMITS", '{"writes_per_minute": {"free": 3}}')
    client.deploy(GETTING_STARTED)
    event = {"data": {"name": "A", "email": "a@example.com"}, "metadata": ADMIN}
    answers = [client.call("POST", f"/user/{USER_ID}/was_created", event) for _ in range(3)]
    assert [a.status for a in answers] == [201, 201, 201], answers
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    refused = client.call("POST", f"/user/{USER_ID}/was_created", event)
    assert refused.status == 429, refused
    assert refused.json == {"ok": False, "error": "Rate limit exceeded", "code": "RATE_LIMITED",
                            "scope": "instance", "limit": 3, "window": "1m", "tier": "free",
                            "retry_after": refused.json["retry_after"]}
    h = refused.headers
    assert (h["X-RateLimit-Limit"], h["X-RateLimit-Remaining"], h["X-RateLimit-Scope"],
            h["X-RateLimit-Tier"]) == ("3", "0", "instance", "free")
    assert 0 < int(h["Retry-After"]) <= 60
    assert client.call("GET", f"/user/{USER_ID}/length").json["length"] == 3  # nothing written
    # reads have their own budget, 5x the writes
    read = client.call("GET", f"/user/{USER_ID}")
    assert read.status == 200 and read.headers["X-RateLimit-Limit"] == "15"
    # a batch is one request
    from chalicelib.core import clock
    clock.advance(60)
    batch = client.call("POST", f"/user/{USER_ID}", {"events": [
        {"type": "had_email_updated", "data": {"email": f"b{i}@example.com"}}
        for i in range(5)], "metadata": ADMIN})
    assert batch.status == 201 and batch.headers["X-RateLimit-Remaining"] == "2", batch


def test_the_per_ip_safety_net_names_its_scope(client, monkeypatch, frozen_clock):
    monkeypatch.setenv("RATE_LIMITS", '{"ip_per_minute": 2}')
    client.deploy(GETTING_STARTED)
    assert [client.call("GET", f"/user/{USER_ID}/length").status for _ in range(2)] == [200, 200]
    refused = client.call("GET", f"/user/{USER_ID}/length")
    assert refused.status == 429 and refused.json["scope"] == "ip", refused
    assert refused.headers["X-RateLimit-Scope"] == "ip"


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/user/not-an-id", None),
    ("GET", "/user/o1/length", None),
    ("GET", "/user/o1/events", None),
    ("POST", "/user/o1/was_created", {"data": {"name": "A", "email": "a@example.com"},
                                      "metadata": ADMIN}),
    ("POST", f"/user/{USER_ID}/was_created", {"data": {"name": "A", "email": "a@example.com"},
                                              "metadata": {"actor": {"type": "admin",
                                                                     "id": "admin-1"}}}),
])
def test_a_malformed_id_is_422_naming_the_accepted_forms(client, method, path, body):
    client.deploy(GETTING_STARTED)
    answer = client.call(method, path, body)
    assert answer.status == 422 and answer.json["code"] == "INVALID_ID", answer
    assert "UUID" in answer.json["error"] and "humane code" in answer.json["error"]
    assert client.call("GET", f"/user/{USER_ID}/length").json["length"] == 0


def test_singletons_read_before_their_first_write(client):
    client.deploy({**GETTING_STARTED, "singletons": ["settings"]})
    for name in ("global", "settings"):
        empty = client.call("GET", f"/user/{name}")
        assert empty.status == 200, empty
        assert empty.json["data"] == {} and empty.json["metadata"]["length"] == 0
        assert client.call("GET", f"/user/{name}/events").json["events"] == []
    written = client.call("POST", "/user/settings/was_created", {
        "data": {"name": "S", "email": "s@example.com"},
        "metadata": {"actor": {"type": "admin", "id": "settings"}}})
    assert written.status == 201, written
    assert client.call("GET", "/user/other_name").status == 422


@pytest.mark.parametrize("ident", ["ABC123XYZ", "abc123xyz", f"{USER_ID}:2026", USER_ID.upper(),
                                   "a4339497-daa0-5c39-a0d3-8e894750d2b0"])
def test_every_accepted_id_form_writes_and_reads(client, ident):
    client.deploy(GETTING_STARTED)
    made = client.call("POST", f"/user/{ident}/was_created", {
        "data": {"name": "A", "email": "a@example.com"}, "metadata": ADMIN})
    assert made.status == 201, made
    assert client.call("GET", f"/user/{ident}").status == 200


def test_an_append_counts_the_ip_in_its_own_transaction(client, monkeypatch, frozen_clock):
    monkeypatch.setenv("RATE_LIMITS", '{"ip_per_minute": 2}')
    client.deploy(GETTING_STARTED)
    event = {"data": {"name": "A", "email": "a@example.com"}, "metadata": ADMIN}
    assert [client.call("POST", f"/user/{USER_ID}/was_created", event).status
            for _ in range(2)] == [201, 201]
    refused = client.call("POST", f"/user/{USER_ID}/was_created", event)
    assert refused.status == 429 and refused.json["scope"] == "ip", refused
    monkeypatch.setenv("RATE_LIMITS", "{}")
    assert client.call("GET", f"/user/{USER_ID}/length").json["length"] == 2  # not written


def test_the_limiter_adds_one_round_trip_to_an_append(client):
    from testing.aws_calls import operations, recording
    client.deploy(GETTING_STARTED)
    event = {"data": {"name": "A", "email": "a@example.com"}, "metadata": ADMIN}
    client.call("POST", f"/user/{USER_ID}/was_created", event)   # warm: key, plan, head
    with recording() as calls:
        assert client.call("POST", f"/user/{USER_ID}/was_created", event).status == 201
    ops = [op for op in operations(calls) if op != "GetSecretValue"]
    # the key's GetItem, the instance's counter, and the append (the IP's count inside)
    assert sorted(ops) == ["GetItem", "TransactWriteItems", "UpdateItem"], ops


def test_every_deploy_body_the_platform_shows(client, stack):
    wrapped = client.deploy(GETTING_STARTED)                      # {"environment", "spec"}
    assert wrapped.status == 201, wrapped
    token = stack.operator_token()
    inst = client.instance
    spec_file = stack.call("POST", f"/api/instances/{inst}/spec", token,
                           body={"spec": {**GETTING_STARTED, "geo_types": {}}})
    assert spec_file.status == 201 and spec_file.json["environment"] == "prod", spec_file
    bare = stack.call("POST", f"/api/instances/{inst}/spec?environment=staging", token,
                      body=GETTING_STARTED)
    assert bare.status == 201 and bare.json["environment"] == "staging", bare
    assert stack.call("POST", f"/api/instances/{inst}/spec", token,
                      body={"environment": "prod"}).status == 400


def test_a_conditional_written_without_its_name(client):
    spec = {"aggregate_types": {"user": {"events": {"was_created": {
        "schema": {"type": "object"},
        "handler": [{"set": {"target": "", "value": "$.data"}},
                    {"if": {"equals": ["$.data.status", "active"]},
                     "then": [{"set": {"target": "badge", "value": "on"}}]}]}}}},
        "agent_types": ["admin"]}
    assert client.deploy(spec).status == 201
    client.call("POST", f"/user/{USER_ID}/was_created", {"data": {"status": "active"},
                                                        "metadata": ADMIN})
    assert client.call("GET", f"/user/{USER_ID}").json["data"]["badge"] == "on"
    bad = {**spec}
    bad["aggregate_types"]["user"]["events"]["was_created"]["handler"][1]["if"] = {"eq": 1}
    answer = client.deploy(bad)
    assert answer.status == 422
    assert any(p["path"].endswith("handler[1].if.eq") for p in answer.json["details"]), answer
