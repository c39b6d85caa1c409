"""adminctl against the `make run` stack: every command group, --json answers parsed,
exit codes (0 success, 1 API error with its code and message, 2 bad usage), the profile's
and key file's permissions (0600), device keygen and login, confirmations refused
without --yes, and the installed console script run as a real process.

Commands run in-process (click's CliRunner) against the live HTTP stack, one stack for
the module."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import device
from cli.main import cli
from testing.e2e import (ADMIN_EMAIL, ADMIN_PASSWORD, NODE_SECRET, PROJECT_DIR, SERVER_NAME,
                         running_stack)
from testing.specs import ORDER_SPEC

ACTOR = "user:550e8400-e29b-41d4-a716-446655440001"
CLEARED = {name: None for name in ("ADMINCTL_URL", "ADMINCTL_PROFILE", "ADMINCTL_TOKEN",
                                   "ADMINCTL_API_KEY", "ADMINCTL_INSTANCE", "ADMINCTL_ENV",
                                   "ADMINCTL_PASSWORD", "ADMINCTL_EMAIL", "ADMINCTL_SERVER_NAME",
                                   "XDG_CONFIG_HOME")}


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-stack")


@pytest.fixture(scope="module")
def stack(local_dir):
    with running_stack(local_dir) as running:
        yield running


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def env(stack, home):
    """The environment of a logged-in operator: URL and profile (logged in once here)."""
    values = {**CLEARED, "ADMINCTL_URL": stack.url,
              "ADMINCTL_PROFILE": str(home / "config" / "profile.json")}
    result = run(values, "login", "--email", ADMIN_EMAIL, input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    return values


def run(env: dict, *args: str, input: str | None = None, code: int = 0):
    """One adminctl call in-process; asserts its exit code."""
    result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result


def js(env: dict, *args: str, **kw):
    """The parsed --json answer of a successful call."""
    return json.loads(run(env, "--json", *args, **kw).stdout)


def api_error(env: dict, *args: str, name: str, number: int | None = None):
    """A call that fails with an API error: exit 1, the code (and number) and message on
    stderr, and with --json the error body on stdout."""
    result = run(env, "--json", *args, code=1)
    expected = f"{name} ({number})" if number else name
    assert f"Error: {expected}: " in result.stderr, result.stderr
    body = json.loads(result.stdout)
    if number:
        assert body["error"] == name and body["code"] == number and body["message"]
    else:
        assert body["ok"] is False and body["code"] == name and body["error"]
    return body


@pytest.fixture(scope="module")
def instance(env, home):
    """An instance with the order spec in prod and staging, and a write key of prod."""
    created = js(env, "instances", "create", "cli-e2e", "--plan", "pro")
    spec_file = home / "order.json"
    spec_file.write_text(json.dumps(ORDER_SPEC))
    for environment in ("prod", "staging"):
        deployed = js(env, "spec", "deploy", created["id"], str(spec_file), "--env", environment)
        assert deployed["version"] == 1
    key = js(env, "keys", "create", created["id"], "--name", "writer", "--scope", "write")
    return {"id": created["id"], "spec_file": spec_file, "key": key["key"]}


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# --- sessions --------------------------------------------------------------------------

def test_login_profile_whoami_refresh(env, stack, home):
    profile = Path(env["ADMINCTL_PROFILE"])
    assert mode(profile) == 0o600
    saved = json.loads(profile.read_text())
    assert saved["url"] == stack.url and saved["token"] and saved["kind"] == "operator"
    me = js(env, "whoami")
    assert me["subject"] == ADMIN_EMAIL and me["server_name"] == SERVER_NAME and me["valid"]
    assert "all" in me["permissions"]
    refreshed = js(env, "refresh")
    assert refreshed["admin_token"] == json.loads(profile.read_text())["token"] != saved["token"]
    assert mode(profile) == 0o600
    # the password never shows, and a wrong one is the API's error
    bad = {**env, "ADMINCTL_PROFILE": str(home / "other.json")}
    result = run(bad, "login", "--email", ADMIN_EMAIL, input="not the password\n", code=1)
    assert "not the password" not in result.output
    assert "INVALID_CREDENTIALS (4006)" in result.stderr
    human = run(env, "whoami").stdout
    assert "subject" in human and ADMIN_EMAIL in human


def test_bad_usage_exits_2(env, home):
    assert "Missing argument" in run(env, "instances", "create", code=2).stderr
    assert "No such command" in run(env, "instances", "explode", code=2).stderr
    assert "expected section.key=value" in run(env, "server", "config", "set", "nokey", code=2).stderr
    run(env, "keys", "create", "x", "--name", "n", "--scope", "root", code=2)
    run(env, "server", "metrics", "--period", "2y", code=2)
    nowhere = {**CLEARED, "ADMINCTL_PROFILE": str(home / "absent.json")}
    assert "no server URL" in run(nowhere, "instances", "list", code=2).stderr


# --- instances and keys ----------------------------------------------------------------

def test_instances(env, instance):
    listed = js(env, "instances", "list", "--all")
    assert instance["id"] in [i["id"] for i in listed["instances"]]
    shown = js(env, "instances", "show", instance["id"])
    assert shown["plan"] == "pro" and shown["usage"]["api_keys_active"] >= 1
    table = run(env, "instances", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "PLAN"]
    assert any(line.startswith(instance["id"]) and "cli-e2e" in line for line in table[1:])
    api_error(env, "instances", "show", "00000000-0000-4000-8000-000000000000",
              name="INSTANCE_NOT_FOUND", number=4041)


def test_key_lifecycle_and_confirmation(env, instance):
    created = run(env, "keys", "create", instance["id"], "--name", "temp", "--scope", "read",
                  "--env", "staging")
    assert "j17_0_staging_" in created.stdout and "shown once" in created.stdout
    key_id = created.stdout.split("id", 1)[1].split()[0]
    listed = js(env, "keys", "list", instance["id"])
    assert "j17_0_staging_" not in json.dumps([{k: v for k, v in row.items() if k != "prefix"}
                                                for row in listed["keys"]])
    rotated = js(env, "keys", "rotate", key_id, "--grace", "1h")
    assert rotated["key"].startswith("j17_0_staging_") and rotated["id"] != key_id
    scheduled = js(env, "keys", "schedule-revocation", rotated["id"], "--at", "7d")
    assert scheduled
    # refused without --yes: nothing revoked
    result = run(env, "keys", "revoke", rotated["id"], input="n\n", code=1)
    assert "Revoke API key" in result.stderr and "Aborted" in result.stderr
    row = {k["id"]: k for k in js(env, "keys", "list", instance["id"])["keys"]}[rotated["id"]]
    assert row["revoked_at"] is None
    js(env, "keys", "revoke", rotated["id"], "--yes")
    row = {k["id"]: k for k in js(env, "keys", "list", instance["id"])["keys"]}[rotated["id"]]
    assert row["revoked_at"] is not None
    api_error(env, "keys", "revoke", rotated["id"], "--yes", name="KEY_REVOKED", number=4091)


# --- spec ------------------------------------------------------------------------------

def test_spec_show_and_diff(env, instance, home):
    shown = js(env, "spec", "show", instance["id"], "--env", "prod")
    assert shown["version"] == 1 and shown["spec"]["agent_types"] == ["user", "system"]
    same = js(env, "spec", "diff", str(instance["spec_file"]), "-i", instance["id"])
    assert same["identical"] and same["diff"] == ""
    changed = home / "changed.json"
    changed.write_text(json.dumps({"spec": {**ORDER_SPEC, "agent_types": ["user"]}}))
    text = run(env, "spec", "diff", str(changed), "-i", instance["id"]).stdout
    assert '-    "system"' in text and f"--- {instance['id']}:prod (version 1)" in text
    two_files = js(env, "spec", "diff", str(instance["spec_file"]), str(changed))
    assert not two_files["identical"]
    both_envs = js(env, "spec", "diff", f"{instance['id']}:staging", f"{instance['id']}:prod")
    assert both_envs["identical"]
    api_error(env, "spec", "diff", f"{instance['id']}:test", str(changed),
              name="SPEC_NOT_FOUND", number=4044)
    invalid = home / "invalid.json"
    invalid.write_text(json.dumps({"aggregate_types": {"x": {"events": {}}}, "agent_types": "no"}))
    body = api_error(env, "spec", "deploy", instance["id"], str(invalid), "--env", "test",
                     name="INVALID_SPEC", number=4220)
    assert body["details"]
    # a forced deploy asks first (and prod refuses force)
    run(env, "spec", "deploy", instance["id"], str(changed), "--env", "prod", "--force",
        input="n\n", code=1)
    api_error(env, "spec", "deploy", instance["id"], str(changed), "--env", "prod", "--force",
              "--yes", name="FORCE_NOT_ALLOWED", number=4121)


# --- data plane ------------------------------------------------------------------------

def test_data_write_read_events_length(env, instance):
    key = ["--api-key", instance["key"]]
    assert js(env, "data", "check", *key)["scope"] == "write"
    written = js(env, "data", "write", "order", "0RDER0001", "created", "--data",
                 '{"customer": "C0FFEE001", "total": 3}', "--actor", ACTOR, *key)
    assert written["ok"] and written["length"] == 1
    with_env = {**env, "ADMINCTL_API_KEY": instance["key"]}
    js(with_env, "data", "write", "order", "0RDER0001", "item_added", "--data",
       '{"sku": "S1", "qty": 2}', "--actor", ACTOR, "--previous-length", "1",
       "--idempotency-key", "cli-add-1")
    state = js(with_env, "data", "read", "order", "0RDER0001")
    assert state["data"]["count"] == 2 and state["metadata"]["length"] == 2
    events = js(with_env, "data", "events", "order", "0RDER0001")
    assert [e["type"] for e in events["events"]] == ["created", "item_added"]
    assert js(with_env, "data", "length", "order", "0RDER0001")["length"] == 2
    assert run(with_env, "data", "length", "order", "0RDER0001").stdout.strip() == "2"
    human = run(with_env, "data", "events", "order", "0RDER0001").stdout.splitlines()
    assert human[0].split()[:2] == ["POSITION", "TYPE"] and len(human) == 3
    conflict = api_error(with_env, "data", "write", "order", "0RDER0001", "closed",
                         "--actor", ACTOR, "--previous-length", "1", name="CONCURRENT_WRITE")
    assert "Stream has 2 events, expected 1" in conflict["error"]
    api_error(env, "data", "read", "order", "0RDER0001", "--api-key", "j17_0_prod_nope",
              name="INVALID_API_KEY")
    run(env, "data", "read", "order", "0RDER0001", code=2)     # no key at all: usage


# --- ops -------------------------------------------------------------------------------

def _history(count: int) -> str:
    lines = [{"aggregate_type": "order", "aggregate_id": f"0RDER{n:04d}", "event_type": "item_added",
              "data": {"sku": "S", "qty": 1}, "metadata": {"actor": {"type": "user", "id": "AGENT0001"}}}
             for n in range(100, 100 + count)]
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_ops_import_jobs_checkpoints_backups(env, instance, home):
    ops = ["-i", instance["id"], "-e", "staging"]
    events = home / "events.jsonl"
    events.write_text(_history(60))
    job = js(env, "ops", "import", str(events), *ops)
    assert job["status"] == "completed" and job["result"]["applied"] == 60
    assert job["progress"]["done"] == 60
    human = run(env, "ops", "import", str(events), "--upload", *ops)   # presigned upload
    assert "status" in human.stdout and "completed" in human.stdout
    assert re.search(r"^result\.applied +60$", human.stdout, re.M)      # lines without position append
    jobs = js(env, "ops", "jobs", "list", *ops, "--kind", "import_jsonl")["jobs"]
    assert len(jobs) == 2 and js(env, "ops", "jobs", "show", jobs[0]["id"], *ops)["status"] == "completed"
    api_error(env, "ops", "jobs", "show", "job_0000000000000000000000000", *ops,
              name="JOB_NOT_FOUND", number=4160)

    cp = js(env, "ops", "checkpoints", "create", "--type", "order", "--id", "0RDER0100", *ops)
    assert cp["length"] == 2
    assert [c["id"] for c in js(env, "ops", "checkpoints", "list", *ops)["checkpoints"]] == [cp["id"]]
    assert js(env, "ops", "checkpoints", "restore", cp["id"], "--yes", *ops)["restored"]
    run(env, "ops", "checkpoints", "delete", cp["id"], *ops, input="n\n", code=1)
    assert js(env, "ops", "checkpoints", "delete", cp["id"], "--yes", *ops)["deleted"]

    backup = js(env, "ops", "backups", "create", *ops)
    assert backup["status"] == "completed"
    backups = js(env, "ops", "backups", "list", *ops)["backups"]
    assert js(env, "ops", "backups", "show", backups[0]["id"], *ops)["events"] == 120
    restored = js(env, "ops", "backups", "restore", backups[0]["id"], "--target-env", "test",
                  "--yes", *ops)
    assert restored["status"] == "completed", restored

    root = js(env, "ops", "root-checkpoints", "create", "--type", "order", *ops)
    assert root["status"] == "completed" and root["result"]["count"] >= 0   # cut 8 s back
    latest = js(env, "ops", "root-checkpoints", "latest", "--type", "order", *ops)
    assert latest["id"] == root["result"]["root_checkpoint_id"]
    assert js(env, "ops", "root-checkpoints", "list", *ops)["root_checkpoints"][0]["id"] == latest["id"]
    api_error(env, "ops", "errors", "show", "err_nope", *ops, name="ERROR_NOT_FOUND", number=4043)


def test_ops_scheduled_sagas_deliveries(env, instance):
    ops = ["-i", instance["id"]]
    for group, key in (("scheduled", "scheduled"), ("sagas", "sagas"), ("deliveries", "deliveries")):
        assert js(env, "ops", group, "list", *ops)[key] == []
        assert run(env, "ops", group, "list", *ops).stdout.strip() == "(none)"
    assert js(env, "ops", "scheduled", "dead", *ops)["dead_letters"] == []
    api_error(env, "ops", "scheduled", "show", "se_0000000000000000000000000", *ops,
              name="SCHEDULED_EVENT_NOT_FOUND", number=4170)
    result = run(env, "ops", "scheduled", "cancel", "se_0000000000000000000000000", *ops, code=1)
    assert "Aborted" in result.stderr                                  # asked, refused
    api_error(env, "ops", "scheduled", "cancel", "se_0000000000000000000000000", "--yes", *ops,
              name="SCHEDULED_EVENT_NOT_FOUND", number=4170)
    api_error(env, "ops", "scheduled", "retry", "se_0000000000000000000000000", *ops,
              name="SCHEDULED_EVENT_NOT_FOUND", number=4170)
    api_error(env, "ops", "sagas", "show", "sg_0000000000000000000000000", *ops,
              name="SAGA_NOT_FOUND", number=4180)
    api_error(env, "ops", "sagas", "retry", "sg_0000000000000000000000000", *ops,
              name="SAGA_NOT_FOUND", number=4180)
    api_error(env, "ops", "deliveries", "show", "dl_0000000000000000000000000", *ops,
              name="DELIVERY_NOT_FOUND", number=4190)
    api_error(env, "ops", "deliveries", "retry", "dl_0000000000000000000000000", *ops,
              name="DELIVERY_NOT_FOUND", number=4190)
    assert js(env, "ops", "blobs", "list", *ops)["blobs"] == []
    chain = js(env, "ops", "integrity", "verify-chain", "order", "0RDER0001", *ops)
    assert chain["valid"] and chain["length"] == 2
    root = js(env, "ops", "integrity", "merkle-root", "order", "0RDER0001", *ops)
    proof = js(env, "ops", "integrity", "merkle-proof", "order", "0RDER0001", "1", *ops)
    assert proof["root"] == root["root"] and proof["treeSize"] == 2
    assert js(env, "ops", "backups", "settings", "--enabled", "--retain", "3", *ops)["retain"] == 3
    assert js(env, "ops", "backups", "settings", *ops)["enabled"] is True
    settings = js(env, "ops", "root-checkpoints", "settings", "--type", "order", "--retain", "2", *ops)
    assert settings["aggregate_types"] == ["order"] and settings["retain"] == 2


def test_ops_tombstones(env, instance):
    ops = ["-i", instance["id"]]
    request = ["ops", "tombstones", "request", "order", "0RDER0001", "--reason", "user asked",
               "--legal-basis", "GDPR Art. 17", "--requested-by", "dpo@example.com", *ops]
    run(env, *request, input="n\n", code=1)
    assert js(env, "ops", "tombstones", "list", *ops)["tombstones"] == []
    tomb = js(env, *request, "--yes")
    assert tomb["status"] == "pending"
    assert [t["id"] for t in js(env, "ops", "tombstones", "list", *ops)["tombstones"]] == [tomb["id"]]
    assert js(env, "ops", "tombstones", "show", tomb["id"], *ops)["reason"] == "user asked"
    run(env, "ops", "tombstones", "execute", tomb["id"], *ops, input="n\n", code=1)
    api_error(env, "ops", "tombstones", "execute", tomb["id"], "--yes", *ops,
              name="TOMBSTONE_GRACE_PERIOD", number=4202)
    assert js(env, "ops", "tombstones", "cancel", tomb["id"], "--yes", *ops)["status"] == "cancelled"


# --- server administration -------------------------------------------------------------

def test_server_config_metrics_export_health_alerts(env, home):
    assert js(env, "server", "config", "get", "progressive_trust.new_tier_limit") == 10
    answer = js(env, "server", "config", "set", "progressive_trust.new_tier_limit=15",
                "rate_limiting.burst_allowance=12")
    assert sorted(answer["updated_fields"]) == ["progressive_trust.new_tier_limit",
                                                "rate_limiting.burst_allowance"]
    section = js(env, "server", "config", "get", "progressive_trust")
    assert section["new_tier_limit"] == 15 and isinstance(section["new_tier_limit"], int)
    assert run(env, "server", "config", "get", "progressive_trust.new_tier_limit").stdout.strip() == "15"
    api_error(env, "server", "config", "set", "progressive_trust.new_tier_limit=5000",
              name="INVALID_CONFIG", number=4012)
    run(env, "server", "config", "get", "nosuch.key", code=2)

    assert js(env, "server", "metrics", "--period", "1h")["period"] == "1h"
    series = js(env, "server", "timeseries", "--metric", "messages_sent", "--period", "1h",
                "--interval", "5m")
    assert series["metric"] == "messages_sent" and len(series["data_points"]) >= 12
    assert "# TYPE" in run(env, "server", "export").stdout
    assert run(env, "server", "export", "--format", "csv").stdout.startswith("metric,value")
    out = home / "metrics.json"
    run(env, "server", "export", "--format", "json", "--out", str(out))
    assert json.loads(out.read_text())
    health = js(env, "server", "health")
    assert health["status"] in ("healthy", "degraded") and "database" in health["components"]
    assert "COMPONENT" in run(env, "server", "health").stdout
    assert "active_alerts" in js(env, "server", "alerts")


def test_server_audit_filters_follow_and_export(env, stack, home):
    entries = js(env, "server", "audit", "list", "--action", "config_updated", "--since", "1h")["entries"]
    assert entries and {e["action"] for e in entries} == {"config_updated"}
    assert "ACTION" in run(env, "server", "audit", "list", "--limit", "5").stdout

    # --follow prints an entry written while it polls (an act by another client)
    def act():
        time.sleep(0.6)
        token = stack.call("POST", "/api/login", body={"email": ADMIN_EMAIL,
                                                       "password": ADMIN_PASSWORD}).json()["admin_token"]
        stack.call("POST", "/admin/v1/federation/block", token,
                   {"domain": "followed.example", "reason": "follow test"})
    thread = threading.Thread(target=act)
    thread.start()
    result = run(env, "--json", "server", "audit", "list", "--follow", "--action",
                 "federation_blocked", "--interval", "0.3", "--max-polls", "100", "--stop-after", "1")
    thread.join()
    followed = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [e["target"] for e in followed] == ["followed.example"]

    csv_file = home / "audit.csv"
    summary = js(env, "server", "audit", "export", "--out", str(csv_file), "--since", "1h")
    assert mode(csv_file) == 0o600 and summary["entries"] >= 1
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("id,timestamp,action") and len(lines) == summary["entries"] + 1
    json_file = home / "audit.json"
    run(env, "server", "audit", "export", "--format", "json", "--out", str(json_file),
        "--action", "federation_blocked")
    assert [e["target"] for e in json.loads(json_file.read_text())["entries"]] == ["followed.example"]


def test_trust_and_federation(env, stack):
    seed = device.new_seed()
    registered = stack.call("POST", "/internal/devices", headers={"X-Node-Secret": NODE_SECRET},
                            body={"public_key": device.public_key(seed).hex()})
    assert registered.status_code == 201, registered.text
    address = registered.json()["device_address"]
    verified = js(env, "trust", "verify", address, "--reason", "known member")
    assert verified["trust_tier"] == "Verified" and verified["device_address"] == address
    api_error(env, "trust", "verify", address, "--reason", "again",
              name="DEVICE_ALREADY_VERIFIED", number=4095)
    assert js(env, "trust", "set-rate-limit", address, "50", "--reason", "burst",
              "--expires-at", "2030-01-01")
    run(env, "trust", "revoke", address, "--reason", "r", input="n\n", code=1)
    js(env, "trust", "revoke", address, "--reason", "r", "--yes")
    api_error(env, "trust", "unblock", address, "--reason", "r", "--yes",
              name="DEVICE_NOT_BLOCKED", number=4098)
    api_error(env, "trust", "verify", "0" * 32 + "@" + SERVER_NAME, "--reason", "x",
              name="DEVICE_NOT_FOUND", number=4013)

    js(env, "federation", "block", "spam-factory.example", "--reason", "spam")
    assert "spam-factory.example" in [p["domain"] for p in js(env, "federation", "list")["blocked_peers"]]
    assert "spam-factory.example" in run(env, "federation", "list").stdout
    run(env, "federation", "unblock", "spam-factory.example", code=1)     # no --yes, no tty
    js(env, "federation", "unblock", "spam-factory.example", "--yes")
    assert "spam-factory.example" not in [p["domain"] for p in js(env, "federation", "list")["blocked_peers"]]
    api_error(env, "federation", "unblock", "spam-factory.example", "--yes",
              name="PEER_NOT_BLOCKED", number=4089)


# --- devices ---------------------------------------------------------------------------

def test_device_keygen_and_login(env, stack, home, local_dir):
    key_file = home / "keys" / "admin.key"
    key_file.parent.mkdir()
    made = js(env, "device", "keygen", "--out", str(key_file))   # server name from the profile
    assert mode(key_file) == 0o600
    seed = bytes.fromhex(key_file.read_text().strip())
    assert len(seed) == 32
    assert made["device_address"] == device.address(seed, SERVER_NAME)
    assert made["public_key"] == device.public_key(seed).hex()
    run(env, "device", "keygen", "--out", str(key_file), code=2)          # never overwritten
    run(env, "device", "keygen", "--out", str(key_file), "--force", code=1)  # asks; no tty: refused
    assert bytes.fromhex(key_file.read_text().strip()) == seed

    device_env = {**env, "ADMINCTL_PROFILE": str(home / "device-profile.json")}
    # not yet an admin: the API's answer
    api_error(device_env, "device", "login", "--key", str(key_file), "--server-name", SERVER_NAME,
              name="INVALID_ADMIN", number=4009)
    # register it and list it as an admin, as the server's operator would
    stack.call("POST", "/internal/devices", headers={"X-Node-Secret": NODE_SECRET},
               body={"public_key": made["public_key"]})
    admins = local_dir / "local" / "server.toml"
    admins.write_text(admins.read_text() + f'"{made["device_address"]}" = ["view_metrics", "view_audit"]\n')
    logged = js(device_env, "device", "login", "--key", str(key_file), "--server-name", SERVER_NAME)
    assert logged["permissions"] == ["view_metrics", "view_audit"] and logged["admin_level"] == "viewer"
    assert mode(device_env["ADMINCTL_PROFILE"]) == 0o600
    assert js(device_env, "whoami")["subject"] == made["device_address"]
    assert js(device_env, "server", "health")["components"]
    api_error(device_env, "instances", "list", name="INSUFFICIENT_PERMISSIONS", number=4011)

    # the key `make run` writes (.local/admin_device.key: the hex seed) logs in as `all`
    stack_key = home / "admin_device.key"
    stack_key.write_text(bytes(stack.device_key).hex() + "\n")
    os.chmod(stack_key, 0o600)
    full = js(device_env, "device", "login", "--key", str(stack_key))   # name kept in the profile
    assert "all" in full["permissions"]
    assert js(device_env, "whoami")["subject"] == stack.device_address


def test_logout_ends_the_session(env, home):
    own = {**env, "ADMINCTL_PROFILE": str(home / "logout-profile.json"), "ADMINCTL_PASSWORD": ADMIN_PASSWORD}
    run(own, "login", "--email", ADMIN_EMAIL)
    token = json.loads(Path(own["ADMINCTL_PROFILE"]).read_text())["token"]
    run(own, "logout")
    assert "token" not in json.loads(Path(own["ADMINCTL_PROFILE"]).read_text())
    assert "not logged in" in run(own, "whoami", code=1).stderr
    api_error({**own, "ADMINCTL_TOKEN": token}, "whoami", name="SESSION_REVOKED", number=4005)


def test_completion_scripts(env):
    assert "_ADMINCTL_COMPLETE=bash_complete" in run(env, "completion", "bash").stdout
    assert "#compdef adminctl" in run(env, "completion", "zsh").stdout
    assert "_ADMINCTL_COMPLETE=fish_complete" in run(env, "completion", "fish").stdout
    run(env, "completion", "tcsh", code=2)


# --- the installed console script ------------------------------------------------------

def test_console_script_is_installed(env, instance):
    script = PROJECT_DIR / ".venv" / "bin" / "adminctl"
    assert script.exists(), "run `make` (its install step installs adminctl into .venv)"
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("ADMINCTL_")}
    proc_env.update({k: v for k, v in env.items() if v is not None})

    def call(*args):
        return subprocess.run([str(script), *args], env=proc_env, capture_output=True, text=True,
                              timeout=60)
    listed = call("--json", "instances", "list")
    assert listed.returncode == 0, listed.stderr
    assert instance["id"] in [i["id"] for i in json.loads(listed.stdout)["instances"]]
    failed = call("instances", "show", "nope")
    assert failed.returncode == 1 and "INSTANCE_NOT_FOUND (4041)" in failed.stderr
    assert call("instances").returncode in (0, 2)       # a group alone prints its help
    assert call("--bogus").returncode == 2
