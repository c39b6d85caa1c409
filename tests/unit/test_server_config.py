"""Config document logic for seed 004's GET/PATCH /admin/v1/config."""
import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.server_config import (
    DEFAULTS,
    FIELDS,
    SECTIONS,
    apply_patch,
    default_config,
    flatten,
    validate_patch,
)

SEED_PATCH = {
    "progressive_trust": {"new_tier_limit": 15, "spam_report_block_threshold": 3},
    "registration": {"proof_of_work_difficulty": 22},
    "server": {"max_message_size": 20971520},
}
BOUNDED = sorted(p for p, f in FIELDS.items() if f.min is not None)
TIERS = (
    "progressive_trust.new_tier_limit",
    "progressive_trust.established_tier_limit",
    "progressive_trust.trusted_tier_limit",
)


@pytest.fixture
def cfg():
    return default_config("chat.example.com")


def nest(path, value):
    section, name = path.split(".")
    return {section: {name: value}}


def paths(problems):
    return [p["path"] for p in problems]


# --- defaults and table -----------------------------------------------------

def test_defaults_match_seed_and_table(cfg):
    assert cfg["server"]["server_name"] == "chat.example.com"
    assert cfg["progressive_trust"]["trusted_tier_limit"] == 300
    assert cfg["federation"]["auto_block_threshold"] == 0.2
    # Table and document describe the same fields, and every default is valid.
    assert set(flatten(cfg)) == set(FIELDS)
    for path, value in flatten(cfg).items():
        f = FIELDS[path]
        assert isinstance(value, f.type) and (f.min is None or f.min <= value <= f.max), path


def test_default_config_is_a_deep_copy():
    cfg = default_config("a.example")
    cfg["progressive_trust"]["new_tier_limit"] = 999
    assert DEFAULTS["progressive_trust"]["new_tier_limit"] == 10
    assert DEFAULTS["server"]["server_name"] == ""


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1]}) == {"a.b": 1, "a.c.d": None, "e": [1]}


# --- the seed's example -----------------------------------------------------

def test_seed_patch(cfg):
    assert validate_patch(cfg, SEED_PATCH) == []
    new, updated, old, newv, restart = apply_patch(cfg, SEED_PATCH)
    assert updated == [
        "progressive_trust.new_tier_limit",
        "progressive_trust.spam_report_block_threshold",
        "registration.proof_of_work_difficulty",
        "server.max_message_size",
    ]
    assert old["progressive_trust.new_tier_limit"] == 10
    assert newv["progressive_trust.new_tier_limit"] == 15
    assert old["progressive_trust.spam_report_block_threshold"] == 5
    assert restart is False  # as the seed answers
    assert new["progressive_trust"]["new_tier_limit"] == 15
    assert new["progressive_trust"]["trusted_tier_limit"] == 300  # untouched fields kept
    assert cfg["progressive_trust"]["new_tier_limit"] == 10  # input not mutated


def test_seed_error_message(cfg):
    assert validate_patch(cfg, nest("progressive_trust.new_tier_limit", 1001)) == [{
        "path": "progressive_trust.new_tier_limit",
        "message": "progressive_trust.new_tier_limit must be between 1 and 1000",
    }]


# --- bounds -------------------------------------------------------------------

def _neutral(cfg, path):
    """Tier limits set so that the tier-order rule cannot interfere with a bound test."""
    est = 1 if path == TIERS[2] else 10000
    cfg["progressive_trust"].update(new_tier_limit=1, established_tier_limit=est, trusted_tier_limit=10000)
    return cfg


@pytest.mark.parametrize("path", BOUNDED)
def test_bounds_accept_edges(cfg, path):
    f = FIELDS[path]
    for edge in (f.min, f.max):
        assert validate_patch(_neutral(cfg, path), nest(path, edge)) == [], (path, edge)


@pytest.mark.parametrize("path", BOUNDED)
def test_bounds_reject_just_outside(cfg, path):
    f = FIELDS[path]
    step = 0.001 if f.type is float else 1
    expected = f"{path} must be between {f.min} and {f.max}"
    for value in (f.min - step, f.max + step):
        assert validate_patch(_neutral(cfg, path), nest(path, value)) == [
            {"path": path, "message": expected}
        ], (path, value)


# --- shape and type errors --------------------------------------------------

def test_unknown_section_and_field(cfg):
    assert validate_patch(cfg, {"nope": {"x": 1}}) == [
        {"path": "nope", "message": "nope is not a known config section"}
    ]
    assert validate_patch(cfg, {"server": {"colour": "red"}}) == [
        {"path": "server.colour", "message": "server.colour is not a known config field"}
    ]


@pytest.mark.parametrize("body", [5, None, "x", [1]])
def test_section_must_be_object(cfg, body):
    assert paths(validate_patch(cfg, {"storage": body})) == ["storage"]


@pytest.mark.parametrize("patch", [None, [], "x", 3])
def test_patch_must_be_object(cfg, patch):
    assert paths(validate_patch(cfg, patch)) == [""]


@pytest.mark.parametrize("path,value,kind", [
    ("progressive_trust.new_tier_limit", True, "an integer"),  # bool is not an int
    ("progressive_trust.new_tier_limit", "5", "an integer"),
    ("progressive_trust.new_tier_limit", 5.5, "an integer"),
    ("progressive_trust.new_tier_limit", None, "an integer"),
    ("registration.enabled", 1, "a boolean"),
    ("registration.enabled", "true", "a boolean"),
    ("federation.auto_block_threshold", False, "a number"),
    ("federation.auto_block_threshold", "0.5", "a number"),
    ("federation.auto_block_threshold", float("nan"), "a number"),
    ("storage.message_queue_limit", {"v": 1}, "an integer"),
])
def test_wrong_types(cfg, path, value, kind):
    assert validate_patch(cfg, nest(path, value)) == [{"path": path, "message": f"{path} must be {kind}"}]


def test_int_accepted_for_float_field_and_stored_as_float(cfg):
    patch = nest("federation.auto_block_threshold", 1)
    assert validate_patch(cfg, patch) == []
    new = apply_patch(cfg, patch).config
    assert new["federation"]["auto_block_threshold"] == 1.0
    assert isinstance(new["federation"]["auto_block_threshold"], float)


@pytest.mark.parametrize("path", ["server.server_name", "server.protocol_version"])
def test_read_only(cfg, path):
    assert validate_patch(cfg, nest(path, "other")) == [{"path": path, "message": f"{path} is read-only"}]
    # Sending back the unchanged value (GET, edit, PATCH whole doc) is fine.
    same = nest(path, flatten(cfg)[path])
    assert validate_patch(cfg, same) == []
    assert apply_patch(cfg, same).updated_fields == []


def test_whole_document_round_trip_is_a_noop(cfg):
    assert validate_patch(cfg, copy.deepcopy(cfg)) == []
    assert apply_patch(cfg, copy.deepcopy(cfg)).updated_fields == []


def test_all_problems_reported_together(cfg):
    patch = {
        "server": {"server_name": "x", "max_message_size": 0},
        "registration": {"proof_of_work_difficulty": True, "bogus": 1},
        "mystery": {},
        "storage": [],
    }
    assert sorted(paths(validate_patch(cfg, patch))) == [
        "mystery", "registration.bogus", "registration.proof_of_work_difficulty",
        "server.max_message_size", "server.server_name", "storage",
    ]


# --- cross-field ------------------------------------------------------------

def test_tier_limits_must_be_ordered(cfg):
    problems = validate_patch(cfg, nest("progressive_trust.new_tier_limit", 61))
    assert paths(problems) == ["progressive_trust.new_tier_limit"]
    assert "must not exceed progressive_trust.established_tier_limit" in problems[0]["message"]
    # Lowering the higher tier is blamed on the field the patch touched.
    assert paths(validate_patch(cfg, nest("progressive_trust.trusted_tier_limit", 59))) == [
        "progressive_trust.trusted_tier_limit"
    ]
    # Equal limits are fine; a patch that moves all three together is judged as a whole.
    assert validate_patch(cfg, nest("progressive_trust.new_tier_limit", 60)) == []
    assert validate_patch(cfg, {"progressive_trust": {
        "new_tier_limit": 500, "established_tier_limit": 600, "trusted_tier_limit": 700}}) == []


def test_cross_field_ignores_untouched_pairs(cfg):
    cfg["progressive_trust"]["new_tier_limit"] = 100  # legacy inconsistent state
    assert validate_patch(cfg, nest("rate_limiting.burst_allowance", 3)) == []


def test_cross_field_skipped_when_field_itself_invalid(cfg):
    assert validate_patch(cfg, nest("progressive_trust.new_tier_limit", "999")) == [{
        "path": "progressive_trust.new_tier_limit",
        "message": "progressive_trust.new_tier_limit must be an integer",
    }]


# --- apply ------------------------------------------------------------------

def test_noop_patch(cfg):
    patch = {"progressive_trust": {"new_tier_limit": 10}, "registration": {"enabled": True}, "server": {}}
    assert validate_patch(cfg, patch) == []
    new, updated, old, newv, restart = apply_patch(cfg, patch)
    assert (new, updated, old, newv, restart) == (cfg, [], {}, {}, False)
    assert apply_patch(cfg, {}).updated_fields == []


def test_requires_restart(cfg):
    restart_fields = sorted(p for p, f in FIELDS.items() if f.requires_restart)
    assert restart_fields == [
        "federation.certificate_validation", "federation.enabled", "storage.message_queue_limit",
    ]
    assert apply_patch(cfg, nest("storage.message_queue_limit", 5000)).requires_restart is True
    assert apply_patch(cfg, nest("federation.enabled", False)).requires_restart is True
    # Setting a restart field to its current value changes nothing, so no restart.
    assert apply_patch(cfg, nest("storage.message_queue_limit", 1000)).requires_restart is False
    assert apply_patch(cfg, nest("rate_limiting.window_seconds", 60)).requires_restart is False


# --- properties -------------------------------------------------------------

def _value(path):
    f = FIELDS[path]
    if f.type is bool:
        return st.booleans()
    if f.type is float:
        return st.one_of(st.floats(f.min, f.max, allow_nan=False), st.integers(int(f.min), int(f.max)))
    return st.integers(f.min, f.max)


@st.composite
def valid_patches(draw):
    """Random in-bounds patches; tier limits move together, drawn in order."""
    patch = {}
    for path, f in FIELDS.items():
        if f.read_only or path in TIERS or not draw(st.booleans()):
            continue
        section, name = path.split(".")
        patch.setdefault(section, {})[name] = draw(_value(path))
    if draw(st.booleans()):
        new = draw(st.integers(1, 1000))
        est = draw(st.integers(new, 10000))
        patch.setdefault("progressive_trust", {}).update(
            new_tier_limit=new, established_tier_limit=est, trusted_tier_limit=draw(st.integers(est, 10000)))
    return patch


@st.composite
def valid_configs(draw):
    cfg = default_config("chat.example.com")
    return apply_patch(cfg, draw(valid_patches())).config


def deep_merge(base, patch):
    out = copy.deepcopy(base)
    for k, v in patch.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@settings(max_examples=200)
@given(valid_configs(), valid_patches())
def test_apply_equals_deep_merge(current, patch):
    assert validate_patch(current, patch) == []
    new, updated, old, newv, restart = apply_patch(current, patch)
    assert new == deep_merge(current, patch)
    flat_cur, flat_patch = flatten(current), flatten(patch)
    changed = sorted(p for p, v in flat_patch.items() if flat_cur[p] != v)
    assert updated == changed
    assert old == {p: flat_cur[p] for p in changed}
    assert newv == {p: flatten(new)[p] for p in changed}
    assert restart == any(FIELDS[p].requires_restart for p in changed)
    assert validate_patch(new, new) == []  # every field of the merged document is still valid


@settings(max_examples=200)
@given(valid_configs(), valid_patches())
def test_apply_is_idempotent(current, patch):
    once = apply_patch(current, patch).config
    again = apply_patch(once, patch)
    assert again.config == once
    assert again.updated_fields == [] and again.requires_restart is False


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
field_names = sorted({p.split(".")[1] for p in FIELDS})
# Known names are mixed in so that random input actually reaches field checks.
near_valid = st.dictionaries(
    st.sampled_from(SECTIONS) | st.text(max_size=8),
    st.dictionaries(st.sampled_from(field_names) | st.text(max_size=8), json_like, max_size=6) | json_like,
    max_size=6,
)


@settings(max_examples=300)
@given(st.one_of(json_like, near_valid))
def test_validate_never_raises(patch):
    cfg = default_config("chat.example.com")
    problems = validate_patch(cfg, patch)
    assert isinstance(problems, list)
    assert all(set(p) == {"path", "message"} and isinstance(p["message"], str) for p in problems)
    if not problems:  # anything accepted must apply cleanly
        apply_patch(cfg, patch)
