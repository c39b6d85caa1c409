"""adminctl's pure parts: `section.key=value` settings, durations and times, table
rendering, device addresses (the spec's test vector), error text; and the rule that the
CLI speaks HTTP only (it never imports the services)."""
import ast
from pathlib import Path

import pytest

from cli import device, output
from cli.http import ApiError
from cli.parsing import (ParseError, build_patch, iso_time, parse_assignment, parse_duration,
                         parse_ref, parse_time, typed_value)
from cli.platform_cmds import spec_diff_text

CLI_DIR = Path(__file__).resolve().parents[2] / "cli"


@pytest.mark.parametrize("text, current, expected", [
    ("15", None, 15), ("0.2", None, 0.2), ("true", None, True), ("false", None, False),
    ("null", None, None), ("[1, 2]", None, [1, 2]), ('"15"', None, "15"), ("hello", None, "hello"),
    ("123", "old name", "123"),          # a string setting keeps the text as written
    ("yes", True, True), ("off", True, False), ("7", 3, 7),
])
def test_typed_value(text, current, expected):
    assert typed_value(text, current) == expected
    assert type(typed_value(text, current)) is type(expected)


def test_assignment_and_patch_body():
    config = {"progressive_trust": {"new_tier_limit": 10}, "server": {"server_name": "x"}}
    assert parse_assignment("progressive_trust.new_tier_limit=15", config) == \
        (["progressive_trust", "new_tier_limit"], 15)
    assert parse_assignment("server.server_name=123", config) == (["server", "server_name"], "123")
    assert parse_assignment("a.b=x=y") == (["a", "b"], "x=y")      # only the first = splits
    assert build_patch(["progressive_trust.new_tier_limit=15", "federation.enabled=false",
                        "progressive_trust.enabled=true"]) == {
        "progressive_trust": {"new_tier_limit": 15, "enabled": True},
        "federation": {"enabled": False}}


@pytest.mark.parametrize("bad", ["nokey", "section=1", ".x=1", "a..b=1", "a.b c=1", "=1"])
def test_bad_assignments_are_refused(bad):
    with pytest.raises(ParseError):
        parse_assignment(bad)


def test_conflicting_assignments_are_refused():
    with pytest.raises(ParseError):
        build_patch(["a.b=1", "a.b.c=2"])
    with pytest.raises(ParseError):
        build_patch(["a.b.c=2", "a.b=1"])


def test_durations_and_times():
    assert parse_duration("90") == 90 and parse_duration("15m") == 900
    assert parse_duration("1h") == 3600 and parse_duration("2d") == 172800
    with pytest.raises(ParseError):
        parse_duration("soon")
    now = 1_800_000_000
    assert parse_time("1767225600") == 1767225600
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600
    assert parse_time("2026-01-01") == 1767225600
    assert parse_time("1h", now=now) == now - 3600
    assert iso_time("2026-01-01") == "2026-01-01T00:00:00Z"
    assert iso_time("1d", now=1767225600) == "2026-01-02T00:00:00Z"     # from now on
    with pytest.raises(ParseError):
        parse_time("yesterday-ish")
    assert parse_ref("user:550e8400-e29b-41d4-a716-446655440000:tag") == {
        "type": "user", "id": "550e8400-e29b-41d4-a716-446655440000:tag"}
    with pytest.raises(ParseError):
        parse_ref("justanid")


def test_table_is_aligned_with_dotted_columns_and_placeholders():
    rows = [{"id": "a", "name": "first", "progress": {"percent": 100.0}, "tags": ["x"], "gone": None},
            {"id": "bbbbbb", "name": "2nd", "progress": {}, "tags": [], "gone": True}]
    text = output.table(rows, ["id", "name", "progress.percent", "tags", "gone"])
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "NAME", "PROGRESS.PERCENT", "TAGS", "GONE"]
    assert lines[1].split() == ["a", "first", "100.0", '["x"]', "-"]
    assert lines[2].split() == ["bbbbbb", "2nd", "-", "[]", "yes"]
    # every column starts at the same offset on every line
    starts = [lines[0].index(h) for h in ("NAME", "PROGRESS.PERCENT", "TAGS", "GONE")]
    assert [lines[1].index(v) for v in ("first", "100.0", '["x"]', "-")] == starts
    assert all(line == line.rstrip() for line in lines)
    assert output.table([], ["id"]) == "ID"
    assert output.cell("x" * 100, 10) == "x" * 9 + "…"


def test_keyvalues_flattens_nested_objects():
    text = output.keyvalues({"id": "j", "progress": {"done": 2, "total": None}, "result": {}})
    assert text.splitlines() == ["id              j", "progress.done   2",
                                 "progress.total  -", "result          {}"]


def test_device_address_matches_the_spec_test_vector():
    seed = bytes(range(32))
    assert device.public_key(seed).hex() == \
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    assert device.address(seed, "chat.example.com") == \
        "40bca4eaf9d2b097ff8dbaa4d61767ed@chat.example.com"
    assert device.sign(seed, "a1b2c3d4e5f61728394a5b6c7d8e9f101234567890abcdef") == (
        "24c94e82a12c6163eded8631645771459707b396fb09c4a8ee443ea7d26cb8b6"
        "740ef13c3087af387f887f051bd43c738c562b6d69821387b903792c5293a30c")
    assert device.parse_seed(seed.hex() + "\n") == seed
    with pytest.raises(ValueError):
        device.parse_seed("abc")


def test_error_text_of_both_surfaces():
    admin = ApiError(404, {"error": "INSTANCE_NOT_FOUND", "message": "Instance not found", "code": 4041})
    assert (admin.name, admin.number, admin.message) == ("INSTANCE_NOT_FOUND", 4041, "Instance not found")
    assert admin.describe().startswith("INSTANCE_NOT_FOUND (4041): Instance not found")
    data = ApiError(401, {"ok": False, "error": "API key is missing, unknown or revoked",
                          "code": "INVALID_API_KEY"})
    assert data.describe().startswith("INVALID_API_KEY: API key is missing, unknown or revoked")
    bare = ApiError(502, None, "<html>bad gateway</html>")
    assert bare.name == "HTTP_502" and "bad gateway" in bare.message


def test_spec_diff_is_canonical():
    assert spec_diff_text({"b": 1, "a": [1]}, {"a": [1], "b": 1}, "x", "y") == ""
    text = spec_diff_text({"a": 1}, {"a": 2}, "old", "new")
    assert "--- old" in text and '-  "a": 1' in text and '+  "a": 2' in text


def test_the_cli_speaks_http_only():
    """cli/ imports neither the services nor the test helpers: only click, PyNaCl and the
    standard library."""
    allowed = {"click", "nacl", "cli"}
    for path in CLI_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in __import__("sys").stdlib_module_names, \
                    f"{path.name} imports {name}"


class FakeJobs:
    """A client whose job advances one step per poll."""

    def __init__(self, states):
        self.states = list(states)
        self.polls = 0

    def get(self, path):
        self.polls += 1
        return self.states[min(self.polls - 1, len(self.states) - 1)]


def job(status, percent, done=0):
    return {"id": "job_1", "kind": "import_jsonl", "status": status,
            "progress": {"done": done, "total": 10, "percent": percent}}


def test_wait_job_polls_until_the_job_ends(monkeypatch, capsys):
    from cli import ops_cmds
    monkeypatch.setattr(ops_cmds, "POLL_SECONDS", 0)
    client = FakeJobs([job("pending", None), job("running", 40.0, 4), job("running", 90.0, 9),
                       job("completed", 100.0, 10)])
    done = ops_cmds.wait_job(client, "/jobs/job_1", timeout=5, show_bar=True)
    assert done["status"] == "completed" and client.polls == 4
    assert "import_jsonl job_1" in capsys.readouterr().err          # the bar's label
    failing = FakeJobs([job("running", 10.0, 1), {**job("failed", 10.0, 1), "error": "bad line"}])
    assert ops_cmds.wait_job(failing, "/jobs/job_1", timeout=5, show_bar=False)["status"] == "failed"
    stuck = FakeJobs([job("running", 10.0, 1)])
    with pytest.raises(ops_cmds.JobFailed, match="still running"):
        ops_cmds.wait_job(stuck, "/jobs/job_1", timeout=0, show_bar=False)
