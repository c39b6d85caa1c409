"""Example calls for the foundation's audited routes (auth, instances, keys)."""


def instance(stack, token):
    return stack.call("POST", "/api/instances", token, body={"name": "acme"}).json["id"]


def key(stack, token):
    inst = instance(stack, token)
    return stack.call("POST", f"/api/instances/{inst}/keys", token,
                      body={"name": "k", "scope": "read", "environment": "test"}).json["id"]


EXAMPLES = {
    ("POST", "/api/login"): (None, {"email": "admin@example.com",
                                    "password": "correct horse battery staple"}),
    ("POST", "/admin/v1/auth"): ("device_login", None),
    ("POST", "/admin/v1/auth/refresh"): (None, None),
    ("POST", "/admin/v1/auth/logout"): (None, None),
    ("POST", "/api/instances"): (None, {"name": "acme", "plan": "pro"}),
    ("POST", "/api/instances/{instance_id}/keys"): (
        lambda s, t: {"instance_id": instance(s, t)},
        {"name": "backend", "scope": "write", "environment": "prod"}),
    ("POST", "/api/keys/{key_id}/rotate"): (lambda s, t: {"key_id": key(s, t)}, {}),
    ("POST", "/api/keys/{key_id}/schedule_revocation"): (
        lambda s, t: {"key_id": key(s, t)}, {"revoke_at": "2099-01-01T00:00:00Z"}),
    ("DELETE", "/api/keys/{key_id}"): (lambda s, t: {"key_id": key(s, t)}, None),
}
