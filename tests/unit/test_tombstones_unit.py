"""The pure parts of tombstones: which types cascade, the marker's shape, and how a
load's report of refused lines is scrubbed."""
from chalicelib.platform.tombstones import execution, service


def test_rules_name_the_types_that_cascade_per_role():
    spec = {"aggregate_types": {
        "user": {"events": {}},
        "comment": {"events": {}, "onTombstone": {"actor": "cascade", "target": "preserve"}},
        "order": {"events": {}, "onTombstone": {"target": "cascade"}},
        "note": {"events": {}, "onTombstone": {"actor": "preserve"}}}}
    assert execution.rules(spec) == {"actor": ["comment"], "target": ["order"]}
    assert execution.rules({}) == {"actor": [], "target": []}


def test_the_marker_keeps_the_content_hash_and_nothing_personal():
    marker = execution.marker("ab" * 32, "ts_17651520000001a2b3c4d5e6f", 1765152000.5)
    assert marker == {"_was_tombstoned": True, "content_hash": "ab" * 32,
                      "tombstone_id": "ts_17651520000001a2b3c4d5e6f",
                      "tombstoned_at": "2025-12-08T00:00:00Z"}


def test_refused_lines_keep_their_numbers_not_their_messages():
    report = {"lines": 3, "invalid": [{"line": 2, "error": "$.data: 'Alice' is not of type "
                                                            "'object'"}]}
    scrubbed = execution._scrubbed(report, "ts_1")
    assert scrubbed["lines"] == 3 and scrubbed["invalid"][0]["line"] == 2
    assert "Alice" not in str(scrubbed)
    assert execution._scrubbed(scrubbed, "ts_1") is None          # once is enough
    assert execution._scrubbed({"lines": 3, "invalid": []}, "ts_1") is None
    assert execution._scrubbed(None, "ts_1") is None


def test_ids_sort_by_request_time():
    import re
    first = service.new_id()
    assert re.match(service.ID_PATTERN, first)
