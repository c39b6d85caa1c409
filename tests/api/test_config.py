"""GET/PATCH /admin/v1/config (seed 004) and the config-update rate limit."""

import pytest

from chalicelib.core import clock
from chalicelib.store.tables import AuditEntry, RateCounter

SEED_PATCH = {"progressive_trust": {"new_tier_limit": 15, "spam_report_block_threshold": 3},
              "registration": {"proof_of_work_difficulty": 22},
              "server": {"max_message_size": 20971520}}


def test_get_config_has_seed_sections_and_defaults(stack):
    token = stack.token_with(["view_metrics"])
    config = stack.call("GET", "/admin/v1/config", token).json
    assert list(config) == ["server", "registration", "progressive_trust", "federation",
                            "rate_limiting", "storage"]
    assert config["server"]["server_name"] == "chat.example.com"
    assert config["progressive_trust"]["new_tier_limit"] == 10
    assert config["federation"]["auto_block_threshold"] == 0.2


def test_seed_patch_answers_seed_shape_and_persists(stack):
    token = stack.device_login(stack.admin_key, stack.register_device(stack.admin_key)).json["admin_token"]
    answer = stack.call("PATCH", "/admin/v1/config", token, body=SEED_PATCH)
    assert answer.status == 200, answer
    assert set(answer.json) == {"config_updated_at", "updated_by", "updated_fields",
                                "requires_restart"}
    assert answer.json["updated_fields"] == [
        "progressive_trust.new_tier_limit", "progressive_trust.spam_report_block_threshold",
        "registration.proof_of_work_difficulty", "server.max_message_size"]
    assert answer.json["requires_restart"] is False
    assert answer.json["updated_by"] == "40bca4eaf9d2b097ff8dbaa4d61767ed@chat.example.com"
    config = stack.call("GET", "/admin/v1/config", token).json
    assert config["progressive_trust"]["new_tier_limit"] == 15
    assert config["progressive_trust"]["established_tier_limit"] == 60  # untouched
    (entry,) = [e for e in AuditEntry.scan() if e.action == "config_updated"]
    assert entry.target == "server_config"
    assert entry.details["old_values"]["progressive_trust.new_tier_limit"] == 10
    assert entry.details["new_values"]["progressive_trust.new_tier_limit"] == 15


def test_out_of_bounds_is_invalid_config_and_changes_nothing(stack):
    token = stack.operator_token()
    answer = stack.call("PATCH", "/admin/v1/config", token,
                        body={"progressive_trust": {"new_tier_limit": 0},
                              "registration": {"proof_of_work_difficulty": "hard"}})
    assert answer.status == 400
    assert answer.json["error"] == "INVALID_CONFIG" and answer.json["code"] == 4012
    assert answer.json["message"] == ("Invalid configuration value: "
                                      "progressive_trust.new_tier_limit must be between 1 and 1000")
    assert {d["path"] for d in answer.json["details"]} == {
        "progressive_trust.new_tier_limit", "registration.proof_of_work_difficulty"}
    assert stack.call("GET", "/admin/v1/config", token).json["progressive_trust"]["new_tier_limit"] == 10
    assert [e for e in AuditEntry.scan() if e.action == "config_updated"] == []


@pytest.mark.parametrize("body", [{"nope": {}}, {"server": {"server_name": "x.example"}},
                                  {"storage": "big"}, []])
def test_unknown_read_only_and_malformed_patches_are_refused(stack, body):
    answer = stack.call("PATCH", "/admin/v1/config", stack.operator_token(), body=body)
    assert answer.status == 400 and answer.json["error"] in ("INVALID_CONFIG", "VALIDATION_ERROR")


def test_requires_restart_flagged(stack):
    answer = stack.call("PATCH", "/admin/v1/config", stack.operator_token(),
                        body={"storage": {"message_queue_limit": 2000}})
    assert answer.json["requires_restart"] is True


def test_noop_patch_lists_nothing(stack):
    answer = stack.call("PATCH", "/admin/v1/config", stack.operator_token(),
                        body={"progressive_trust": {"new_tier_limit": 10}})
    assert answer.status == 200 and answer.json["updated_fields"] == []


def test_manage_config_needed(stack):
    token = stack.token_with(["view_metrics", "view_audit"])
    answer = stack.call("PATCH", "/admin/v1/config", token, body=SEED_PATCH)
    assert answer.status == 403
    assert answer.json == {"error": "INSUFFICIENT_PERMISSIONS",
                           "message": "Admin does not have 'manage_config' permission",
                           "code": 4011}



def test_config_update_limit_is_100_per_hour(stack):
    token = stack.operator_token()
    now = clock.now_int()
    window = now - now % 3600
    RateCounter(key=f"config_updates#admin@example.com#{window}", count=99).save()
    assert stack.call("PATCH", "/admin/v1/config", token,
                      body={"rate_limiting": {"burst_allowance": 11}}).status == 200
    refused = stack.call("PATCH", "/admin/v1/config", token,
                         body={"rate_limiting": {"burst_allowance": 12}})
    assert refused.status == 429 and refused.json["error"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert stack.call("GET", "/admin/v1/config", token).json["rate_limiting"]["burst_allowance"] == 11
    clock.advance(3600)
    token = stack.operator_token()
    assert stack.call("PATCH", "/admin/v1/config", token,
                      body={"rate_limiting": {"burst_allowance": 12}}).status == 200
