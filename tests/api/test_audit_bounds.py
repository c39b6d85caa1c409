"""The audit query's work is bounded: only months between the first and last recorded
month are read, total_count is counted (Select=COUNT) in the same pass that reads the page,
and since/until/filters out of range answer 400, never 500."""
import pytest

from chalicelib.core import caches, clock
from chalicelib.identity import audit
from chalicelib.identity.principal import Origin, Principal
from chalicelib.store.tables import MetaItem
from testing.aws_calls import operations, recording

ALICE = Principal(subject="a1b2c3d4e5f61728394a5b6c7d8e9f10@server.com", kind="device")
ORIGIN = Origin(ip_address="192.168.1.100", user_agent="CryptidAdmin/1.0")
EVERYTHING = "?since=0&until=253402300799"
DAY = 86400


def get(stack, token, query=""):
    return stack.call("GET", "/admin/v1/audit" + query, token)


def dynamodb_calls(calls):
    return [op for op in operations(calls) if op != "GetSecretValue"]


@pytest.fixture
def spread(stack, frozen_clock):
    """Entries in three months: 70 days ago (3), 35 days ago (2) and now (the token's
    login and 1), newest first in `targets`."""
    token = stack.token_with(["view_audit"])
    targets = []
    for days, n in ((70, 3), (35, 2)):
        clock.advance(-days * DAY)
        for i in range(n):
            clock.advance(60)
            audit.record(ALICE, "device_verified", f"d{days}-{i}@server.com", {}, ORIGIN)
            targets.append(f"d{days}-{i}@server.com")
        clock.advance(days * DAY - 60 * n)
    clock.advance(1)
    audit.record(ALICE, "config_updated", "server_config", {}, ORIGIN)
    targets.append("server_config")
    return stack, token, list(reversed(targets))


def test_the_whole_range_reads_only_the_months_that_exist(spread):
    stack, token, targets = spread
    with recording() as calls:
        answer = get(stack, token, EVERYTHING)
    assert answer.status == 200, answer
    mine = [e["target"] for e in answer.json["entries"] if e["action"] != "admin_login"]
    assert mine == targets
    assert answer.json["total_count"] == len(targets) + 1  # and the token's login
    months = len(audit._months_between(0, audit.MAX_TS))
    assert 3 <= months <= 4  # 70 days back to now
    queries = [p for op, p in calls if op == "Query"]
    counts = [p for p in queries if p.get("Select") == "COUNT"]
    assert len(counts) == months
    assert len(queries) - len(counts) <= 3  # entries read only from the months holding some
    # the token check, the rate counter, the meta item, the queries: nothing per year
    assert len(dynamodb_calls(calls)) <= months + 3 + 6


def test_paging_across_months_matches_reading_everything(spread):
    stack, token, targets = spread
    whole = get(stack, token, EVERYTHING + "&limit=1000").json["entries"]
    assert len(whole) == len(targets) + 1
    for offset in range(len(whole) + 2):
        for limit in (1, 2, 3):
            page = get(stack, token, f"{EVERYTHING}&offset={offset}&limit={limit}").json
            assert page["entries"] == whole[offset:offset + limit], (offset, limit)
            assert page["total_count"] == len(whole)
            more = offset + len(page["entries"]) < len(whole)
            assert page["has_more"] is more
            assert page["next_offset"] == (offset + len(page["entries"]) if more else None)


def test_a_page_reads_only_the_month_that_holds_it(spread):
    """The oldest entries: the newer months are counted, never read."""
    stack, token, targets = spread
    with recording() as calls:
        page = get(stack, token, f"{EVERYTHING}&offset={len(targets)}&limit=5").json
    assert [e["target"] for e in page["entries"]] == ["d70-0@server.com"]
    reads = [p for op, p in calls if op == "Query" and p.get("Select") != "COUNT"]
    assert len(reads) == 1


def test_a_filter_is_one_index_query_whatever_the_range(spread):
    stack, token, _ = spread
    with recording() as calls:
        answer = get(stack, token, EVERYTHING + "&action=device_verified")
    assert answer.json["total_count"] == 5
    assert len([op for op in operations(calls) if op == "Query"]) == 2  # count, then read
    assert not [p for op, p in calls if op == "GetItem" and p["TableName"].endswith("meta")]


def test_export_of_the_whole_range_is_bounded(spread):
    stack, token, targets = spread
    with recording() as calls:
        answer = stack.call("GET", "/admin/v1/audit/export" + EVERYTHING + "&format=json", token)
    assert answer.status == 200, answer
    assert answer.json["count"] == len(targets) + 1
    assert len([op for op in operations(calls) if op == "Query"]) <= 4


def test_entries_in_a_later_month_are_found_after_the_clock_comes_back(stack, frozen_clock):
    token = stack.token_with(["view_audit"])
    clock.advance(40 * DAY)
    audit.record(ALICE, "device_verified", "future@server.com", {}, ORIGIN)
    clock.advance(-40 * DAY)
    answer = get(stack, token, EVERYTHING)
    assert "future@server.com" in [e["target"] for e in answer.json["entries"]]


def test_the_first_and_last_month_cost_a_write_only_when_they_move(stack, frozen_clock):
    stack.token_with(["view_audit"])
    caches.clear_all()  # a fresh container: it learns the bounds with its first entry
    with recording() as calls:
        audit.record(ALICE, "device_verified", "a@server.com", {}, ORIGIN)
    assert dynamodb_calls(calls) == ["UpdateItem", "PutItem"]
    with recording() as calls:
        audit.record(ALICE, "device_verified", "b@server.com", {}, ORIGIN)
    assert dynamodb_calls(calls) == ["PutItem"]  # the month is known: no extra round trip
    clock.advance(-100 * DAY)
    with recording() as calls:
        audit.record(ALICE, "device_verified", "c@server.com", {}, ORIGIN)
    assert dynamodb_calls(calls) == ["UpdateItem", "PutItem"]
    item = MetaItem.get(audit.MONTHS_KEY)
    assert item.first_month == audit.month_of(clock.now_int())
    assert item.last_month == audit.month_of(clock.now_int() + 100 * DAY)


def test_a_container_that_knew_less_never_narrows_the_bounds(stack, frozen_clock):
    stack.token_with(["view_audit"])
    clock.advance(-100 * DAY)
    audit.record(ALICE, "device_verified", "old@server.com", {}, ORIGIN)
    clock.advance(100 * DAY)
    caches.clear_all()  # another container: knows nothing, writes in the current month
    audit.record(ALICE, "device_verified", "new@server.com", {}, ORIGIN)
    assert audit.recorded_months() == (audit.month_of(clock.now_int() - 100 * DAY),
                                       audit.month_of(clock.now_int()))


def test_entries_written_in_an_act_transaction_are_covered(stack):
    token = stack.operator_token()
    inst = stack.call("POST", "/api/instances", token, body={"name": "acme", "plan": "pro"})
    assert inst.status == 201, inst
    month = audit.month_of(clock.now_int())
    assert audit.recorded_months() == (month, month)
    viewer = stack.token_with(["view_audit"])
    answer = get(stack, viewer, EVERYTHING + "&limit=1000")
    assert "instance_created" in [e["action"] for e in answer.json["entries"]]


def test_a_trail_from_before_the_bounds_is_covered_by_noting_its_first_month(stack):
    """Entries written before MetaItem audit_months existed: note_month(oldest) once."""
    token = stack.token_with(["view_audit"])
    old = clock.now_int() - 200 * DAY
    entry = audit.Act(ALICE, "device_verified").entry(audit.Note("legacy@server.com"))
    entry.month, entry.timestamp = audit.month_of(old), old
    entry.sort_key = audit.sort_key(old, entry.id)
    entry.save()  # as the seed wrote it: no bounds moved
    assert "legacy@server.com" not in [e["target"] for e in get(
        stack, token, EVERYTHING).json["entries"]]
    audit.note_month(audit.month_of(old))
    assert "legacy@server.com" in [e["target"] for e in get(
        stack, token, EVERYTHING).json["entries"]]


@pytest.mark.parametrize("query", [
    "?until=99999999999999999999", "?since=99999999999999999999",
    "?until=253402300800", "?since=-1", "?until=-99999999999999999999",
    "?action=", "?admin=", "?target=", "?since=0&until=253402300799&action=",
])
@pytest.mark.parametrize("path", ["/admin/v1/audit", "/admin/v1/audit/export"])
def test_out_of_range_times_and_empty_filters_are_400(stack, path, query):
    token = stack.token_with(["view_audit"])
    answer = stack.call("GET", path + query, token)
    assert answer.status == 400, answer
    assert answer.json["error"] == "VALIDATION_ERROR"
    name = query[1:].split("&")[-1].split("=")[0]
    assert answer.json["details"][0]["path"] == name


def test_the_largest_until_is_accepted(stack):
    token = stack.token_with(["view_audit"])
    answer = get(stack, token, "?until=253402300799")  # since: a day before it
    assert answer.status == 200 and answer.json["total_count"] == 0
    answer = get(stack, token, "?since=253402300799&until=253402300799")
    assert answer.status == 200
