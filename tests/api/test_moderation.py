"""Moderation: device trust, custom rate limits, spam reports and the
automatic block, federation blocks, the chat server's internal calls, and the counters
behind the `devices` / `federation` / `spam` metrics (checked against brute force)."""
import random
import time

import pytest
from nacl.signing import SigningKey

from chalicelib.chat.devices import service as devices
from chalicelib.chat.moderation import service as moderation
from chalicelib.core import clock
from chalicelib.domain import trust
from chalicelib.identity import audit
from chalicelib.identity.principal import Principal
from chalicelib.store import device_counters as device_stats
from chalicelib.store.tables import AuditEntry, Counter, Device, FederationPeer

H = 3600
NOT_FOUND = {"error": "DEVICE_NOT_FOUND", "message": "Device not found", "code": 4013}
UNKNOWN_ADDRESS = "0" * 32 + "@chat.example.com"
OPERATOR = "admin@example.com"


@pytest.fixture
def frozen(monkeypatch):
    """The clock stands still (moved only by clock.advance), so counts taken a few
    milliseconds apart agree to the second."""
    start = float(int(time.time()))
    monkeypatch.setattr(clock, "now", lambda: start + clock._offset)
    return start


@pytest.fixture
def token(stack):
    return stack.operator_token()


def new_device(stack):
    return stack.register_device(SigningKey.generate())


def entries(action):
    return sorted((e for e in AuditEntry.scan() if e.action == action), key=lambda e: e.sort_key)


def only_entry(action):
    found = entries(action)
    assert len(found) == 1, [e.details for e in found]
    return found[0]


def limit_of(stack, address):
    answer = stack.node("GET", f"/internal/devices/{address}/rate-limit")
    assert answer.status == 200, answer
    return answer.json


def verify(stack, token, address, reason="Known community member"):
    return stack.call("POST", "/admin/v1/trust/verify", token,
                      body={"device_address": address, "reason": reason})


def report(stack, address, reporter=None, reason=None):
    body = {k: v for k, v in (("reporter", reporter), ("reason", reason)) if v is not None}
    return stack.node("POST", f"/internal/devices/{address}/spam-reports", body=body)


# --- verify / revoke --------------------------------------------------------------------------

def test_verify_answers_the_spec_shape_and_audits(stack, token, frozen):
    address = new_device(stack)
    answer = verify(stack, token, address)
    assert answer.status == 200, answer
    assert answer.json == {"device_address": address, "trust_tier": "Verified", "rate_limit": 300,
                           "verified_at": int(frozen), "verified_by": OPERATOR}
    entry = only_entry("device_verified")
    assert (entry.admin, entry.target, entry.user_agent) == (OPERATOR, address, "pytest/1.0")
    assert entry.details == {"reason": "Known community member", "previous_tier": "New",
                             "new_tier": "Verified"}
    assert limit_of(stack, address)["source"] == "verified"
    assert stack.node("GET", f"/internal/devices/{address}").json["trust_tier"] == "verified"


def test_verify_by_a_moderator_device_names_it(stack):
    moderator = stack.token_with(["verify_devices"])
    address = new_device(stack)
    answer = verify(stack, moderator, address)
    assert answer.status == 200
    by = answer.json["verified_by"]
    assert by != OPERATOR and by.endswith("@chat.example.com")
    assert only_entry("device_verified").admin == answer.json["verified_by"]


def test_previous_tier_is_the_tier_at_the_time(stack, token):
    address = new_device(stack)
    clock.advance(7 * H)
    token = stack.operator_token()
    verify(stack, token, address)
    assert only_entry("device_verified").details["previous_tier"] == "Established"


def test_verify_unknown_device_is_404_and_audits_nothing(stack, token):
    answer = verify(stack, token, UNKNOWN_ADDRESS)
    assert answer.status == 404 and answer.json == NOT_FOUND
    assert entries("device_verified") == []


def test_verify_twice_is_409_and_counts_once(stack, token):
    address = new_device(stack)
    assert verify(stack, token, address).status == 200
    again = verify(stack, token, address)
    assert again.status == 409
    assert again.json == {"error": "DEVICE_ALREADY_VERIFIED", "code": 4095,
                          "message": "Device is already verified"}
    assert device_stats.devices_summary(86400)["verified"] == 1
    assert len(entries("device_verified")) == 1


def test_verify_validation_lists_every_problem(stack, token):
    answer = stack.call("POST", "/admin/v1/trust/verify", token,
                        body={"device_address": "not-an-address", "reason": " ", "extra": 1})
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"
    assert answer.json["code"] == 4000
    paths = {d["path"] for d in answer.json["details"]}
    assert {"device_address", "reason", ""} <= paths  # "" : the unexpected property
    missing = stack.call("POST", "/admin/v1/trust/verify", token, body={})
    assert missing.status == 400 and len(missing.json["details"]) == 2


def test_revoke(stack, token, frozen):
    address = new_device(stack)
    not_verified = stack.call("POST", "/admin/v1/trust/revoke", token,
                              body={"device_address": address, "reason": "x"})
    assert not_verified.status == 409 and not_verified.json["error"] == "DEVICE_NOT_VERIFIED"
    assert not_verified.json["code"] == 4096
    verify(stack, token, address)
    answer = stack.call("POST", "/admin/v1/trust/revoke", token,
                        body={"device_address": address, "reason": "Key compromised"})
    assert answer.status == 200, answer
    assert answer.json == {"device_address": address, "trust_tier": "New", "rate_limit": 10,
                           "source": "progressive", "revoked_at": int(frozen),
                           "revoked_by": OPERATOR}
    entry = only_entry("verification_revoked")
    assert entry.target == address and entry.details == {
        "reason": "Key compromised", "previous_tier": "Verified", "new_tier": "New",
        "verified_by": OPERATOR}
    assert limit_of(stack, address)["source"] == "progressive"
    unknown = stack.call("POST", "/admin/v1/trust/revoke", token,
                         body={"device_address": UNKNOWN_ADDRESS, "reason": "x"})
    assert unknown.status == 404 and unknown.json == NOT_FOUND


MODERATION_ROUTES = [
    ("POST", "/admin/v1/trust/verify", "verify_devices"),
    ("POST", "/admin/v1/trust/revoke", "verify_devices"),
    ("POST", "/admin/v1/trust/unblock", "verify_devices"),
    ("POST", "/admin/v1/trust/set-rate-limit", "modify_rate_limits"),
    ("POST", "/admin/v1/federation/block", "block_federation"),
    ("POST", "/admin/v1/federation/unblock", "block_federation"),
    ("GET", "/admin/v1/federation/blocked", "block_federation"),
]


def test_each_route_needs_its_permission(stack):
    viewer = stack.token_with(["view_metrics", "view_audit"])
    verifier = stack.token_with(["verify_devices"])
    for method, path, permission in MODERATION_ROUTES:
        for tok in (viewer,) + (() if permission == "verify_devices" else (verifier,)):
            answer = stack.call(method, path, tok, body={})
            assert answer.status == 403, (path, answer)
            assert answer.json == {"error": "INSUFFICIENT_PERMISSIONS", "code": 4011,
                                   "message": f"Admin does not have '{permission}' permission"}


# --- custom rate limits -----------------------------------------------------------------------

def set_limit(stack, token, address, limit, reason="Bridge bot", **extra):
    return stack.call("POST", "/admin/v1/trust/set-rate-limit", token,
                      body={"device_address": address, "custom_rate_limit": limit,
                            "reason": reason, **extra})


def test_permanent_custom_limit(stack, token):
    address = new_device(stack)
    answer = set_limit(stack, token, address, 1000)
    assert answer.status == 200, answer
    assert answer.json == {"device_address": address, "trust_tier": "New", "rate_limit": 1000,
                           "source": "custom", "custom_rate_limit": 1000, "expires_at": None,
                           "reason": "Bridge bot", "previous_rate_limit": 10}
    entry = only_entry("rate_limit_modified")
    assert entry.target == address and entry.details == {
        "reason": "Bridge bot", "previous_limit": 10, "previous_source": "progressive",
        "new_limit": 1000, "effective_limit": 1000, "expires_at": None}
    clock.advance(400 * 24 * H)
    assert limit_of(stack, address)["rate_limit"] == 1000


def test_custom_limit_until_expiry_then_the_tier_again(stack, token, frozen):
    address = new_device(stack)
    until = int(frozen) + 600
    answer = set_limit(stack, token, address, 2, expires_at=until)
    assert answer.json["rate_limit"] == 2 and answer.json["expires_at"] == until
    assert limit_of(stack, address) == {"device_address": address, "trust_tier": "new",
                                        "rate_limit": 2, "source": "custom", "expires_at": until,
                                        "next_tier_at": None}
    clock.advance(599)
    assert limit_of(stack, address)["rate_limit"] == 2
    clock.advance(1)
    after = limit_of(stack, address)
    assert (after["rate_limit"], after["source"], after["expires_at"]) == (10, "progressive", None)


def test_custom_limit_zero_and_removal(stack, token):
    address = new_device(stack)
    assert set_limit(stack, token, address, 0).json["rate_limit"] == 0
    removed = set_limit(stack, token, address, None, reason="done")
    assert removed.status == 200 and removed.json["rate_limit"] == 10
    assert removed.json["source"] == "progressive" and removed.json["previous_rate_limit"] == 0
    assert sorted((e.details["new_limit"] for e in entries("rate_limit_modified")),
                  key=lambda v: v is None) == [0, None]


def test_custom_limit_overrides_verified(stack, token):
    address = new_device(stack)
    verify(stack, token, address)
    answer = set_limit(stack, token, address, 50)
    assert answer.json["trust_tier"] == "Verified" and answer.json["rate_limit"] == 50
    assert answer.json["previous_rate_limit"] == 300


def test_set_rate_limit_failures(stack, token, frozen):
    address = new_device(stack)
    past = set_limit(stack, token, address, 5, expires_at=int(frozen) - 1)
    assert past.status == 400 and past.json["details"] == [
        {"path": "expires_at", "message": "must be in the future"}]
    too_big = set_limit(stack, token, address, 100001)
    assert too_big.status == 400 and too_big.json["details"][0]["path"] == "custom_rate_limit"
    wrong = stack.call("POST", "/admin/v1/trust/set-rate-limit", token,
                       body={"device_address": address, "custom_rate_limit": "10"})
    assert wrong.status == 400
    assert {d["path"] for d in wrong.json["details"]} == {"custom_rate_limit", ""}
    missing = set_limit(stack, token, UNKNOWN_ADDRESS, 5)
    assert missing.status == 404 and missing.json == NOT_FOUND
    assert entries("rate_limit_modified") == []


# --- tiers over time, config ------------------------------------------------------------------

def test_tiers_over_time(stack, frozen):
    address = new_device(stack)
    first_seen = int(frozen)
    assert limit_of(stack, address) == {"device_address": address, "trust_tier": "new",
                                        "rate_limit": 10, "source": "progressive",
                                        "expires_at": None, "next_tier_at": first_seen + 6 * H}
    clock.advance(6 * H - 1)
    assert limit_of(stack, address)["trust_tier"] == "new"
    clock.advance(1)
    assert limit_of(stack, address)["trust_tier"] == "established"
    assert limit_of(stack, address)["rate_limit"] == 60
    clock.advance(24 * H)
    assert limit_of(stack, address)["trust_tier"] == "trusted"
    assert limit_of(stack, address)["rate_limit"] == 300
    assert stack.node("GET", f"/internal/devices/{address}").json["trust_tier"] == "trusted"


def test_tiers_follow_the_config(stack, token):
    address = new_device(stack)
    patched = stack.call("PATCH", "/admin/v1/config", token,
                         body={"progressive_trust": {"new_tier_limit": 15}})
    assert patched.status == 200, patched
    assert limit_of(stack, address)["rate_limit"] == 15
    stack.call("PATCH", "/admin/v1/config", token, body={"progressive_trust": {"enabled": False}})
    assert limit_of(stack, address)["rate_limit"] == 300
    assert limit_of(stack, address)["trust_tier"] == "trusted"
    summary = device_stats.devices_summary(86400)["by_trust_tier"]
    assert summary["new"] == 0 and summary["trusted"] == 2  # the admin device and this one


def test_rate_limit_of_unknown_device_is_404(stack):
    answer = stack.node("GET", f"/internal/devices/{UNKNOWN_ADDRESS}/rate-limit")
    assert answer.status == 404 and answer.json == NOT_FOUND


# --- spam reports -----------------------------------------------------------------------------

def test_spam_reports_block_at_the_threshold_once(stack, token):
    address = new_device(stack)
    for n in range(1, 5):
        answer = report(stack, address, f"r{n}@chat.example.com", "spam")
        assert answer.status == 201, answer
        assert answer.json == {"device_address": address, "spam_reports": n, "counted": True,
                               "threshold": 5, "blocked": False, "auto_blocked": False}
    fifth = report(stack, address, "r5@chat.example.com", "ads")
    assert fifth.json["auto_blocked"] is True and fifth.json["blocked"] is True
    assert limit_of(stack, address) == {"device_address": address, "trust_tier": "blocked",
                                        "rate_limit": 0, "source": "blocked",
                                        "expires_at": None, "next_tier_at": None}
    sixth = report(stack, address, "r6@chat.example.com")
    assert sixth.json["blocked"] is True and sixth.json["auto_blocked"] is False
    entry = only_entry("device_auto_blocked")
    assert entry.admin == "system:moderation" and entry.target == address
    assert entry.details == {"reason": "spam reports reached the threshold (5 >= 5)",
                             "spam_reports": 5, "threshold": 5, "previous_tier": "New",
                             "new_tier": "Blocked", "last_reporter": "r5@chat.example.com",
                             "last_report_reason": "ads"}
    assert device_stats.spam_summary(86400) == {"reports_last_24h": 6,
                                                "auto_blocked_devices_last_24h": 1}
    assert device_stats.devices_summary(86400)["blocked"] == 1
    # a blocked device cannot be verified until unblocked
    blocked = verify(stack, token, address)
    assert blocked.status == 409 and blocked.json["error"] == "DEVICE_BLOCKED"


def test_a_reporter_counts_once(stack):
    address = new_device(stack)
    assert report(stack, address, "same@chat.example.com").json["counted"] is True
    again = report(stack, address, "same@chat.example.com")
    assert again.status == 201 and again.json["counted"] is False
    assert again.json["spam_reports"] == 1
    anonymous = [report(stack, address).json["spam_reports"] for _ in range(2)]
    assert anonymous == [2, 3]  # without a reporter every report counts
    assert device_stats.spam_summary(3600)["reports_last_24h"] == 3


def test_threshold_follows_the_config(stack, token):
    stack.call("PATCH", "/admin/v1/config", token,
               body={"progressive_trust": {"spam_report_block_threshold": 2}})
    address = new_device(stack)
    report(stack, address)
    assert report(stack, address).json["auto_blocked"] is True


def test_spam_report_failures(stack):
    missing = report(stack, UNKNOWN_ADDRESS, "r@chat.example.com")
    assert missing.status == 404 and missing.json == NOT_FOUND
    assert report(stack, UNKNOWN_ADDRESS).json == NOT_FOUND
    address = new_device(stack)
    bad = stack.node("POST", f"/internal/devices/{address}/spam-reports", body={"reporter": 5})
    assert bad.status == 400 and bad.json["details"][0]["path"] == "reporter"
    assert device_stats.spam_summary(86400)["reports_last_24h"] == 0


def test_unblock_device_starts_the_count_afresh(stack, token):
    address = new_device(stack)
    for n in range(5):
        report(stack, address, f"r{n}")
    answer = stack.call("POST", "/admin/v1/trust/unblock", token,
                        body={"device_address": address, "reason": "a brigade"})
    assert answer.status == 200, answer
    assert answer.json == {"device_address": address, "trust_tier": "New", "rate_limit": 10,
                           "source": "progressive", "spam_reports": 0}
    entry = only_entry("device_unblocked")
    assert entry.details == {"reason": "a brigade", "previous_tier": "Blocked", "new_tier": "New",
                             "block_reason": "spam reports reached the threshold (5 >= 5)",
                             "spam_reports": 5}
    assert report(stack, address, "r0").json == {
        "device_address": address, "spam_reports": 1, "counted": True, "threshold": 5,
        "blocked": False, "auto_blocked": False}
    again = stack.call("POST", "/admin/v1/trust/unblock", token,
                       body={"device_address": address, "reason": "x"})
    assert again.status == 409 and again.json["error"] == "DEVICE_NOT_BLOCKED"


def test_a_verified_device_blocked_by_reports_returns_to_verified(stack, token):
    address = new_device(stack)
    verify(stack, token, address)
    for n in range(5):
        report(stack, address, f"r{n}")
    summary = device_stats.devices_summary(86400)
    assert (summary["verified"], summary["blocked"]) == (0, 1)
    assert only_entry("device_auto_blocked").details["previous_tier"] == "Verified"
    stack.call("POST", "/admin/v1/trust/unblock", token,
               body={"device_address": address, "reason": "ok"})
    assert limit_of(stack, address)["source"] == "verified"
    summary = device_stats.devices_summary(86400)
    assert (summary["verified"], summary["blocked"]) == (1, 0)


# --- federation -------------------------------------------------------------------------------

def block(stack, token, domain, reason="Excessive spam reports", **extra):
    return stack.call("POST", "/admin/v1/federation/block", token,
                      body={"domain": domain, "reason": reason, **extra})


def blocked_list(stack, token):
    answer = stack.call("GET", "/admin/v1/federation/blocked", token)
    assert answer.status == 200, answer
    return answer.json


def test_block_list_unblock(stack, token, frozen):
    answer = block(stack, token, "Spam-Factory.com")
    assert answer.status == 200, answer
    record = {"domain": "spam-factory.com", "first_seen": int(frozen), "last_seen": None,
              "blocked": True, "blocked_at": int(frozen), "blocked_by": OPERATOR,
              "reason": "Excessive spam reports", "expires_at": None, "auto_blocked": False}
    assert answer.json == record
    entry = only_entry("federation_blocked")
    assert entry.target == "spam-factory.com"
    assert entry.details == {"reason": "Excessive spam reports", "expires_at": None,
                             "auto_blocked": False}
    assert blocked_list(stack, token) == {"blocked_peers": [record], "total_count": 1}
    assert device_stats.federation_summary() == {"active_peers": 0, "blocked_peers": 1}

    again = block(stack, token, "spam-factory.com")
    assert again.status == 409 and again.json["error"] == "PEER_ALREADY_BLOCKED"

    lifted = stack.call("POST", "/admin/v1/federation/unblock", token,
                        body={"domain": "spam-factory.com", "reason": "Cleaned up"})
    assert lifted.status == 200, lifted
    assert lifted.json["blocked"] is False and lifted.json["reason"] is None
    entry = only_entry("federation_unblocked")
    assert entry.target == "spam-factory.com" and entry.details == {
        "reason": "Cleaned up", "previous_reason": "Excessive spam reports",
        "blocked_by": OPERATOR, "expires_at": None}
    assert blocked_list(stack, token) == {"blocked_peers": [], "total_count": 0}
    assert device_stats.federation_summary() == {"active_peers": 1, "blocked_peers": 0}


def test_unblock_failures(stack, token):
    unknown = stack.call("POST", "/admin/v1/federation/unblock", token,
                         body={"domain": "never-seen.example"})
    assert unknown.status == 404 and unknown.json["error"] == "PEER_NOT_FOUND"
    assert unknown.json["code"] == 4046
    stack.node("POST", "/internal/federation/peers", body={"domain": "friendly.example"})
    not_blocked = stack.call("POST", "/admin/v1/federation/unblock", token,
                             body={"domain": "friendly.example"})
    assert not_blocked.status == 409 and not_blocked.json["error"] == "PEER_NOT_BLOCKED"
    assert entries("federation_unblocked") == []


@pytest.mark.parametrize("domain", ["localhost", "bad_domain.com", "10.0.0.1", "-x.com", ""])
def test_invalid_domains_are_400(stack, token, domain):
    answer = block(stack, token, domain)
    assert answer.status == 400 and answer.json["error"] == "VALIDATION_ERROR"
    assert answer.json["details"][0]["path"] == "domain"
    assert FederationPeer.count() == 0


def test_block_validation(stack, token, frozen):
    answer = stack.call("POST", "/admin/v1/federation/block", token,
                        body={"domain": "x.com", "expires_at": "soon"})
    assert answer.status == 400
    assert {d["path"] for d in answer.json["details"]} == {"", "expires_at"}  # reason missing
    past = block(stack, token, "x.com", expires_at=int(frozen))
    assert past.status == 400 and past.json["details"][0]["path"] == "expires_at"


def test_expiring_block_lapses_on_its_own(stack, token, frozen):
    until = int(frozen) + 120
    answer = block(stack, token, "noisy.example", expires_at=until)
    assert answer.json["expires_at"] == until
    assert only_entry("federation_blocked").details["expires_at"] == until
    clock.advance(119)
    token = stack.operator_token()
    assert blocked_list(stack, token)["total_count"] == 1
    assert device_stats.federation_summary()["blocked_peers"] == 1
    clock.advance(1)
    assert blocked_list(stack, token)["total_count"] == 0
    assert device_stats.federation_summary() == {"active_peers": 1, "blocked_peers": 0}
    peer = stack.node("POST", "/internal/federation/peers", body={"domain": "noisy.example"})
    assert peer.status == 200 and peer.json["blocked"] is False
    lapsed = stack.call("POST", "/admin/v1/federation/unblock", token,
                        body={"domain": "noisy.example"})
    assert lapsed.status == 409
    # blocking again after the lapse replaces the old block
    assert block(stack, token, "noisy.example", reason="again").status == 200
    assert device_stats.federation_summary() == {"active_peers": 0, "blocked_peers": 1}


def test_register_peer(stack, token, frozen):
    first = stack.node("POST", "/internal/federation/peers", body={"domain": "Matrix.Example."})
    assert first.status == 201, first
    assert first.json == {"domain": "matrix.example", "first_seen": int(frozen),
                          "last_seen": int(frozen), "blocked": False, "blocked_at": None,
                          "blocked_by": None, "reason": None, "expires_at": None,
                          "auto_blocked": False}
    clock.advance(30)
    again = stack.node("POST", "/internal/federation/peers", body={"domain": "matrix.example"})
    assert again.status == 200 and again.json["last_seen"] == int(frozen) + 30
    assert again.json["first_seen"] == int(frozen)
    block(stack, stack.operator_token(), "matrix.example")
    blocked = stack.node("POST", "/internal/federation/peers", body={"domain": "matrix.example"})
    assert blocked.status == 200 and blocked.json["blocked"] is True
    bad = stack.node("POST", "/internal/federation/peers", body={"domain": "not a domain"})
    assert bad.status == 400 and bad.json["details"][0]["path"] == "domain"
    assert device_stats.federation_summary() == {"active_peers": 0, "blocked_peers": 1}


# --- activity ---------------------------------------------------------------------------------

def test_activity_records_last_seen(stack, frozen):
    a, b = new_device(stack), new_device(stack)
    answer = stack.node("POST", "/internal/devices/activity",
                        body={"device_addresses": [a, b.upper().replace("@CHAT.EXAMPLE.COM",
                                                                        "@chat.example.com"),
                                                   UNKNOWN_ADDRESS]})
    assert answer.status == 200, answer
    assert answer.json == {"recorded": 2, "unchanged": 0, "unknown": [UNKNOWN_ADDRESS]}
    assert int(Device.get(a).last_seen) == int(frozen)
    again = stack.node("POST", "/internal/devices/activity", body={"device_addresses": [a]})
    assert again.json == {"recorded": 0, "unchanged": 1, "unknown": []}  # within a minute
    assert device_stats.devices_summary(3600)["active_last_24h"] == 2
    clock.advance(2 * H)
    stack.node("POST", "/internal/devices/activity", body={"device_addresses": [a]})
    assert device_stats.devices_summary(3600)["active_last_24h"] == 1
    assert device_stats.devices_summary(86400)["active_last_24h"] == 2


def test_activity_retries_a_device_another_report_moved(stack, frozen, monkeypatch):
    a, b, c = new_device(stack), new_device(stack), new_device(stack)
    stale = list(Device.batch_get([a, b, c]))
    clock.advance(120)
    device_stats.record_activity([a])  # a moves after the batch read below was taken
    clock.advance(120)
    monkeypatch.setattr(Device, "batch_get", lambda keys: iter(stale))
    groups = []
    touch = device_stats.touch_group
    monkeypatch.setattr(device_stats, "touch_group",
                        lambda group, now: groups.append(len(group)) or touch(group, now))
    assert device_stats.record_activity([a, b, c]) == {"recorded": 3, "unchanged": 0,
                                                       "unknown": []}
    assert groups == [3, 3]  # refused as a whole for a's stale read, then all three again
    monkeypatch.undo()
    assert {int(Device.get(x).last_seen) for x in (a, b, c)} == {int(frozen) + 240}
    assert device_stats.devices_summary(3600) == brute_force(3600)


def test_activity_validation(stack):
    empty = stack.node("POST", "/internal/devices/activity", body={"device_addresses": []})
    assert empty.status == 400
    too_many = stack.node("POST", "/internal/devices/activity",
                          body={"device_addresses": [UNKNOWN_ADDRESS] * 501})
    assert too_many.status == 400 and too_many.json["details"][0]["path"] == "device_addresses"
    bad = stack.node("POST", "/internal/devices/activity", body={"device_addresses": ["x"]})
    assert bad.status == 400 and bad.json["details"][0]["path"] == "device_addresses.0"


# --- counters against brute force -------------------------------------------------------------

def brute_force(period_seconds):
    cfg = moderation.trust_config()
    now = clock.now_int()
    rows = list(Device.scan())
    tiers = dict.fromkeys(trust.TIERS, 0)
    for d in rows:
        if d.blocked_at is None:
            tiers[trust.tier(d.first_seen, now, verified=d.verified_at is not None,
                             blocked=False, cfg=cfg)] += 1
    return {"total": len(rows),
            "active_last_24h": sum(1 for d in rows
                                   if d.last_seen is not None
                                   and d.last_seen >= now - period_seconds),
            "new_last_24h": sum(1 for d in rows if d.first_seen >= now - period_seconds),
            "verified": tiers["verified"],
            "blocked": sum(1 for d in rows if d.blocked_at is not None),
            "by_trust_tier": tiers}


def brute_force_peers():
    now = clock.now()
    rows = list(FederationPeer.scan())
    blocked = sum(1 for p in rows if p.blocked_at is not None
                  and (p.block_expires_at is None or now < p.block_expires_at))
    return {"active_peers": len(rows) - blocked, "blocked_peers": blocked}


PERIODS = (3600, 86400, 7 * 86400, 30 * 86400)


@pytest.mark.parametrize("seed", [20240917, 4])
def test_counters_equal_brute_force_after_a_random_history(stack, frozen, seed):
    """Registrations, re-registrations, verifications, revocations, spam blocks,
    unblocks, activity and federation blocks over weeks of simulated time, in random
    order and at random times; after every step group the counters equal a full count."""
    rng = random.Random(seed)
    done = dict.fromkeys(["verify", "revoke", "unblock", "block_peer", "unblock_peer"], 0)
    admin = audit.Act(Principal(subject=OPERATOR, kind="operator", permissions=("all",)),
                      "test_act")
    keys, addresses = [], []
    domains = [f"peer{n}.example" for n in range(6)]
    from chalicelib.chat.config import service as server_config
    server_config.update(admin, {"progressive_trust": {"spam_report_block_threshold": 2}})

    def check():
        for period in PERIODS:
            assert device_stats.devices_summary(period) == brute_force(period), period
        assert device_stats.federation_summary() == brute_force_peers()

    for step in range(160):
        clock.advance(rng.choice([1, 59, 600, 3599, 3600, 5 * H + 1800, 20 * H]))
        op = rng.random()
        if op < 0.3 or not addresses:
            key = SigningKey.generate()
            keys.append(key)
            addresses.append(devices.register(key.verify_key.encode().hex())[0]["device_address"])
        elif op < 0.35:
            devices.register(rng.choice(keys).verify_key.encode().hex())  # already there
        elif op < 0.5:
            done["verify"] += _ignore_conflicts(moderation.verify, admin,
                                                rng.choice(addresses), "r")
        elif op < 0.58:
            done["revoke"] += _ignore_conflicts(moderation.revoke_verification, admin,
                                                rng.choice(addresses), "r")
        elif op < 0.7:
            moderation.report_spam(rng.choice(addresses[:4]), f"u{rng.randrange(8)}", None)
        elif op < 0.76:
            done["unblock"] += _ignore_conflicts(moderation.unblock_device, admin,
                                                rng.choice(addresses[:4]), "r")
        elif op < 0.88:
            device_stats.record_activity(rng.sample(addresses, min(len(addresses), 4)))
        elif op < 0.94:
            expires = rng.choice([None, clock.now_int() + rng.randrange(60, 3 * 86400)])
            done["block_peer"] += _ignore_conflicts(moderation.block_peer, admin,
                                                    rng.choice(domains), "r", expires)
        elif op < 0.97:
            done["unblock_peer"] += _ignore_conflicts(moderation.unblock_peer, admin,
                                                      rng.choice(domains), None)
        else:
            moderation.register_peer(rng.choice(domains))
        if step % 20 == 19:
            check()
    clock.advance(45 * 86400)
    check()
    assert all(done.values()), done  # every kind of change happened
    assert entries("device_auto_blocked")  # and the spam threshold blocked some devices


def _ignore_conflicts(fn, *args):
    from chalicelib.core.errors import AppError
    try:
        fn(*args)
        return 1
    except AppError as exc:
        assert exc.status in (404, 409), exc
        return 0


def test_re_registering_counts_nothing(stack):
    key = SigningKey.generate()
    stack.register_device(key)
    before = device_stats.devices_summary(86400)
    answer = stack.node("POST", "/internal/devices",
                        body={"public_key": key.verify_key.encode().hex()})
    assert answer.status == 200
    assert device_stats.devices_summary(86400) == before


def test_counter_writes_are_conditional_on_the_state_they_assume(stack):
    """A device change computed from a stale read is refused, and moves no counter."""
    address = new_device(stack)
    stale = Device.get(address)
    admin = audit.Act(Principal(subject=OPERATOR, kind="operator", permissions=("all",)),
                      "test_act")
    moderation.verify(admin, address, "r")
    counters = {(c.name, int(c.bucket)): int(c.value) for c in Counter.scan()}
    with pytest.raises(device_stats.Conflict):
        device_stats.change_device(stale, [Device.verified_at.set(1)],
                                   device_stats.DeviceState(int(stale.first_seen), None, True,
                                                            False))
    assert {(c.name, int(c.bucket)): int(c.value) for c in Counter.scan()} == counters


# --- round trips ------------------------------------------------------------------------------

def _count_calls(fn):
    from testing.aws_calls import operations, recording
    with recording() as calls:
        result = fn()
    return result, operations(calls)


def _populate(count, rng):
    """`count` devices through the real flows: register, verify, spam-block, activity."""
    admin = audit.Act(Principal(subject=OPERATOR, kind="operator", permissions=("all",)),
                      "test_act")
    made = []
    for _ in range(count):
        made.append(devices.register(SigningKey.generate().verify_key.encode().hex())[0]
                    ["device_address"])
        clock.advance(rng.choice([1, 300, 3600]))
    moderation.verify(admin, made[0], "r")
    for n in range(5):
        moderation.report_spam(made[1], f"u{n}", None)
    device_stats.record_activity(made[::2])
    return made


def _bulk_load(count, rng):
    """`count` more devices written straight to the table (BatchWriteItem), spread over
    40 days, then the counters rebuilt from the table: how a 100,000-device benchmark
    is loaded without a transaction per device."""
    now = clock.now_int()
    with Device.batch_write() as batch:
        for n in range(count):
            first_seen = now - rng.randrange(40 * 86400)
            batch.save(Device(
                device_address=f"{n:032x}@chat.example.com", public_key="00" * 32,
                first_seen=first_seen,
                last_seen=rng.choice([None, rng.randrange(first_seen, now + 1)]),
                verified_at=now if rng.random() < 0.1 else None,
                blocked_at=now if rng.random() < 0.05 else None))
    return device_stats.rebuild()


SUMMARIES = (("devices_24h", lambda: device_stats.devices_summary(86400)),
             ("devices_30d", lambda: device_stats.devices_summary(30 * 86400)),
             ("federation", device_stats.federation_summary),
             ("spam_24h", lambda: device_stats.spam_summary(86400)))


def test_summaries_never_scan_and_cost_the_same_at_10_and_2000_devices(stack, frozen,
                                                                       monkeypatch):
    rng = random.Random(7)
    _populate(10, rng)
    small = {name: _count_calls(fn) for name, fn in SUMMARIES}
    assert small["devices_24h"][0] == brute_force(86400)
    assert _bulk_load(1990, rng)["devices"] == 2001  # with the bootstrap's admin device
    large = {name: _count_calls(fn) for name, fn in SUMMARIES}
    for name, _ in SUMMARIES:
        assert small[name][1] == large[name][1], (name, small[name][1], large[name][1])
        assert "Scan" not in large[name][1]
    assert large["devices_24h"][0] == brute_force(86400)
    assert large["devices_30d"][0] == brute_force(30 * 86400)
    # 1 config GetItem + 1 BatchGetItem + 3 Queries (tiers) + 2 (new) + 2 (active)
    assert sorted(large["devices_24h"][1]) == ["BatchGetItem", "GetItem"] + ["Query"] * 7
    assert sorted(large["federation"][1]) == ["BatchGetItem", "Query", "Query"]
    assert sorted(large["spam_24h"][1]) == ["GetItem", "Query", "Query"]


def test_rebuild_agrees_with_the_counters_kept_incrementally(stack, frozen):
    rng = random.Random(11)
    _populate(30, rng)
    moderation.block_peer(audit.Act(Principal(subject=OPERATOR, kind="operator"), "test_act"),
                          "a.example", "r",
                          clock.now_int() + 100)
    before = [fn() for _, fn in SUMMARIES]
    device_stats.rebuild()
    assert [fn() for _, fn in SUMMARIES] == before


def test_prune_drops_only_second_buckets_no_read_reaches(stack, frozen):
    rng = random.Random(3)
    _populate(6, rng)
    clock.advance(40 * 86400)
    fresh = new_device(stack)
    device_stats.record_activity([fresh])
    before = [fn() for _, fn in SUMMARIES]
    seconds = lambda: sum(1 for c in Counter.scan() if c.name.endswith("#s"))  # noqa: E731
    count = seconds()
    assert device_stats.prune() > 0
    assert seconds() < count
    assert [fn() for _, fn in SUMMARIES] == before
    assert device_stats.prune() == 0  # idempotent
    assert device_stats.devices_summary(86400) == brute_force(86400)
