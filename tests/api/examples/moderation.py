"""Example calls for the moderation routes (device trust, rate limits, federation)."""
from nacl.signing import SigningKey

from chalicelib.domain.devices import device_address

MEMBER_KEY = SigningKey(bytes(range(32, 64)))
MEMBER = device_address(MEMBER_KEY.verify_key.encode(), "chat.example.com")


def member(stack, token):
    stack.register_device(MEMBER_KEY)
    return {}


def verified_member(stack, token):
    member(stack, token)
    answer = stack.call("POST", "/admin/v1/trust/verify", token,
                        body={"device_address": MEMBER, "reason": "setup"})
    assert answer.status == 200, answer
    return {}


def spam_blocked_member(stack, token):
    member(stack, token)
    for n in range(5):
        stack.node("POST", f"/internal/devices/{MEMBER}/spam-reports",
                   body={"reporter": f"reporter{n}@chat.example.com"})
    return {}


def blocked_domain(stack, token):
    answer = stack.call("POST", "/admin/v1/federation/block", token,
                        body={"domain": "spam-factory.com", "reason": "setup"})
    assert answer.status == 200, answer
    return {}


EXAMPLES = {
    ("POST", "/admin/v1/trust/verify"): (
        member, {"device_address": MEMBER, "reason": "Known community member"}),
    ("POST", "/admin/v1/trust/revoke"): (
        verified_member, {"device_address": MEMBER, "reason": "Key compromised"}),
    ("POST", "/admin/v1/trust/unblock"): (
        spam_blocked_member, {"device_address": MEMBER, "reason": "Reports were a brigade"}),
    ("POST", "/admin/v1/trust/set-rate-limit"): (
        member, {"device_address": MEMBER, "custom_rate_limit": 1000, "reason": "Bridge bot"}),
    ("POST", "/admin/v1/federation/block"): (
        None, {"domain": "spam-factory.com", "reason": "Excessive spam reports"}),
    ("POST", "/admin/v1/federation/unblock"): (
        blocked_domain, {"domain": "spam-factory.com", "reason": "Cleaned up"}),
}
