"""Signing listener deliveries: known vectors (computed with openssl), the standardwebhooks
package verifying our headers unchanged, the README's X-J17-Signature check, the retry
schedule, Retry-After, and which addresses a delivery may reach."""
import base64
import json
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from chalicelib.domain import webhooks as wh

SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="   # bytes 0..31
KEY = bytes(range(32))
ID = "dl_1700000000000abcdef012345"
T = 1700000000
BODY = b'{"a":1}'
# openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f over "1700000000.{"a":1}"
J17_VECTOR = "03348adc068f3e120398d321e294ed21d5531ba19808733437c88c51d9ffdb14"
# ... -binary | base64 over "dl_1700000000000abcdef012345.1700000000.{"a":1}"
STANDARD_VECTOR = "XB8pmKHuKof4NrMMeiuFuwZtWUSyVupDJ0MyY5Vi+j0="


def test_secret_key_decodes_the_standard_webhooks_form():
    assert wh.secret_key(SECRET) == KEY
    assert wh.secret_key(SECRET.rstrip("=")) == KEY          # unpadded base64 too
    fresh = wh.new_secret()
    assert fresh.startswith("whsec_") and len(wh.secret_key(fresh)) == 32


@pytest.mark.parametrize("bad, fragment", [
    ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "must be 'whsec_'"),
    ("whsec_", "standard base64"),
    ("whsec_AAEC-_", "standard base64"),
    ("whsec_" + base64.b64encode(b"x" * 23).decode(), "not 23"),
    ("whsec_" + base64.b64encode(b"x" * 65).decode(), "not 65"),
    (None, "must be 'whsec_'"),
])
def test_bad_secrets_are_refused_without_echoing_them(bad, fragment):
    with pytest.raises(wh.SecretError) as err:
        wh.secret_key(bad)
    assert fragment in str(err.value)
    if bad and len(bad) > 8:
        assert bad[6:] not in str(err.value)


def test_known_vectors():
    assert wh.j17_signature(KEY, T, BODY) == f"t={T},v1={J17_VECTOR}"
    assert wh.standard_signature(KEY, ID, T, BODY) == f"v1,{STANDARD_VECTOR}"
    headers = wh.headers(KEY, ID, T, BODY)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-J17-Signature"] == f"t={T},v1={J17_VECTOR}"
    assert headers["webhook-id"] == ID and headers["webhook-timestamp"] == str(T)
    assert headers["webhook-signature"] == f"v1,{STANDARD_VECTOR}"


def _body():
    return wh.body(ID, "billing", "inst1", "prod", "order", "0RDER0001", "paid", 3,
                   {"total": 10, "note": "café"}, {"actor": {"type": "user", "id": "u"}},
                   1700000000.123)


def test_the_body_is_the_documented_json():
    raw = _body()
    doc = json.loads(raw)
    assert list(doc) == ["id", "listener", "instance_id", "environment", "aggregate_type",
                         "aggregate_id", "event_type", "stream_id", "position", "data",
                         "metadata", "timestamp"]
    assert doc["stream_id"] == "order/0RDER0001@3" and doc["position"] == 3
    assert doc["timestamp"] == "2023-11-14T22:13:20.123Z"
    assert "café".encode() in raw      # UTF-8, not \\u escapes


def test_standardwebhooks_verifies_our_headers_unchanged():
    raw = _body()
    now = int(time.time())
    headers = wh.headers(KEY, ID, now, raw)
    assert Webhook(SECRET).verify(raw, headers) == json.loads(raw)
    # and its own signature is ours, byte for byte
    theirs = Webhook(SECRET).sign(ID, datetime.fromtimestamp(now, tz=timezone.utc),
                                  raw.decode())
    assert theirs == headers["webhook-signature"]


def test_standardwebhooks_refuses_a_tampered_body_timestamp_or_secret():
    raw = _body()
    now = int(time.time())
    headers = wh.headers(KEY, ID, now, raw)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(raw.replace(b'"total":10', b'"total":99'), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(raw, {**headers, "webhook-timestamp": str(now + 1)})
    with pytest.raises(WebhookVerificationError):
        Webhook(wh.new_secret()).verify(raw, headers)
    old = wh.headers(KEY, ID, now - 301, raw)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(raw, old)


def test_the_documented_j17_check():
    raw = _body()
    now = 1_800_000_000
    header = wh.headers(KEY, ID, now, raw)["X-J17-Signature"]
    assert wh.verify_j17(SECRET, header, raw, now)
    assert wh.verify_j17(SECRET, header, raw, now + 300)          # within 5 minutes
    assert not wh.verify_j17(SECRET, header, raw, now + 301)      # a replay, too late
    assert not wh.verify_j17(SECRET, header, raw, now - 301)      # from the future
    assert not wh.verify_j17(SECRET, header, raw + b" ", now)     # tampered body
    forged_t = header.replace(f"t={now}", f"t={now + 1}")
    assert not wh.verify_j17(SECRET, forged_t, raw, now)          # tampered timestamp
    assert not wh.verify_j17(wh.new_secret(), header, raw, now)   # other secret
    assert not wh.verify_j17(SECRET, "v1=" + "0" * 64, raw, now)  # no t
    # a rotation may send two v1 values: either matching passes
    other = wh.j17_signature(wh.secret_key(wh.new_secret()), now, raw).split(",")[1]
    assert wh.verify_j17(SECRET, f"{header},{other}", raw, now)


def test_the_same_check_written_out_as_a_receiver_would():
    """The README's steps, with hmac/hashlib only."""
    import hashlib
    import hmac
    raw = _body()
    header = wh.headers(KEY, ID, T, raw)["X-J17-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, parts["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])


def test_retry_schedule_and_scale():
    assert [wh.retry_delay(n) for n in (1, 2, 3, 4)] == [5, 25, 125, 125]
    assert wh.retry_delay(2, 0.01) == pytest.approx(0.25)
    assert wh.whole_delay(0.4) == 0 and wh.whole_delay(1.0) == 1
    assert wh.whole_delay(1.2) == 2 and wh.whole_delay(5000) == 900


def test_retry_after():
    now = 1_700_000_000.0
    assert wh.retry_after_seconds("120", now) == 120
    assert wh.retry_after_seconds("999999", now) == 3600          # capped at an hour
    assert wh.retry_after_seconds("Tue, 14 Nov 2023 22:15:20 GMT", now) == 120
    assert wh.retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0   # past
    assert wh.retry_after_seconds("soon", now) is None
    assert wh.retry_after_seconds(None, now) is None
    assert wh.retry_after_seconds("-5", now) is None


@pytest.mark.parametrize("address, fragment", [
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("127.8.8.8", "loopback"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "not a globally routable"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"), ("2002:a00:1::1", "private"),
    ("fc00::1", "private"), ("192.0.2.1", "private"),
])
def test_refused_addresses(address, fragment):
    refusal = wh.address_refusal(address)
    assert refusal and fragment in refusal


def test_allowed_addresses():
    assert wh.address_refusal("93.184.216.34") is None
    assert wh.address_refusal("2606:2800:220:1:248:1893:25c8:1946") is None
    assert wh.address_refusal("127.0.0.1", allow_loopback=True) is None
    assert wh.address_refusal("::1", allow_loopback=True) is None
    assert wh.address_refusal("10.0.0.1", allow_loopback=True)      # only loopback
    assert wh.address_refusal("0.0.0.0", allow_loopback=True)


def test_listener_matching_takes_both_forms():
    spec = {"listeners": [
        {"name": "a", "events": [{"aggregate_type": "order", "event_type": "*"}]},
        {"name": "b", "events": ["order.paid", "customer.*"]},
        {"name": "c", "events": [{"aggregate_type": "customer", "event_type": "joined"}]}]}
    assert [x["name"] for x in wh.listeners_for(spec, "order", "paid")] == ["a", "b"]
    assert [x["name"] for x in wh.listeners_for(spec, "order", "created")] == ["a"]
    assert [x["name"] for x in wh.listeners_for(spec, "customer", "joined")] == ["b", "c"]
    assert wh.listeners_for({}, "order", "paid") == []


def test_redacted_spec():
    spec = {"aggregate_types": {}, "listeners": [{"name": "a", "secret": SECRET},
                                                 {"name": "b", "secret": wh.REDACTED}]}
    out = wh.redacted_spec(spec)
    assert [x["secret"] for x in out["listeners"]] == [wh.REDACTED, wh.REDACTED]
    assert spec["listeners"][0]["secret"] == SECRET                 # not changed
    clean = {"listeners": [{"name": "b", "secret": wh.REDACTED}]}
    assert wh.redacted_spec(clean) is clean
