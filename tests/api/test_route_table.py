"""Tests generated from the route declarations: every protected route refuses a caller
without its credential or permission, and every mutating admin route audits once."""
import re

import pytest

import app  # noqa: F401  (registers every route)
from chalicelib.domain.permissions import PLATFORM_PERMISSIONS, SERVER_PERMISSIONS
from chalicelib.http.declarations import ANY_ADMIN, ROUTES
from chalicelib.store.tables import AuditEntry

ALL_SPECIFIC = list(SERVER_PERMISSIONS + PLATFORM_PERMISSIONS)


def concrete(path):
    return re.sub(r"{(\w+)}", lambda m: "prod" if m.group(1) == "env" else "x" + m.group(1), path)


def ids(spec):
    return f"{spec.method} {spec.path}"


ADMIN = [r for r in ROUTES if r.auth == "admin"]
GUARDED = [r for r in ADMIN if r.permission != ANY_ADMIN]
NODE = [r for r in ROUTES if r.auth == "node"]
KEYED = [r for r in ROUTES if r.auth == "api_key"]


def test_every_route_is_declared_with_a_known_auth():
    assert ROUTES and all(r.auth in {"admin", "node", "api_key", "public"} for r in ROUTES)
    allowed = set(ALL_SPECIFIC) | {ANY_ADMIN}
    assert all(r.permission in allowed for r in ADMIN)


@pytest.mark.parametrize("spec", ADMIN + KEYED, ids=ids)
def test_no_token_is_401(stack, spec):
    answer = stack.call(spec.method, concrete(spec.path), body={})
    assert answer.status == 401, answer


@pytest.mark.parametrize("spec", NODE, ids=ids)
def test_internal_routes_need_the_node_secret(stack, spec):
    assert stack.call(spec.method, concrete(spec.path), body={}).status == 401
    wrong = stack.node(spec.method, concrete(spec.path), body={}, secret="not-it")
    assert wrong.status == 401 and wrong.json["error"] == "INVALID_NODE_SECRET"


@pytest.fixture
def tokens_without(stack):
    cache = {}

    def get(permission):
        if permission not in cache:
            cache[permission] = stack.token_with([p for p in ALL_SPECIFIC if p != permission])
        return cache[permission]
    return get


@pytest.mark.parametrize("spec", GUARDED, ids=ids)
def test_missing_permission_is_403(stack, tokens_without, spec):
    token = tokens_without(spec.permission)
    before = AuditEntry.count()
    answer = stack.call(spec.method, concrete(spec.path), token, body={})
    assert answer.status == 403, answer
    assert answer.json == {"error": "INSUFFICIENT_PERMISSIONS", "code": 4011,
                           "message": f"Admin does not have '{spec.permission}' permission"}
    assert AuditEntry.count() == before  # refused acts change nothing


from tests.api.examples import EXAMPLES as MUTATING_CALLS  # noqa: E402

AUDITED = [r for r in ROUTES if r.audit]


def test_every_audited_route_has_an_example_call():
    assert {(r.method, r.path) for r in AUDITED} == set(MUTATING_CALLS)
    mutating_admin = {(r.method, r.path) for r in ADMIN if r.mutating}
    assert mutating_admin <= {(r.method, r.path) for r in AUDITED}


@pytest.mark.parametrize("spec", AUDITED, ids=ids)
def test_every_mutating_route_audits_exactly_once(stack, spec):
    token = stack.operator_token()
    setup, body = MUTATING_CALLS[(spec.method, spec.path)]
    if setup == "device_login":
        before = AuditEntry.count()
        answer = stack.device_login(stack.admin_key, stack.register_device(stack.admin_key))
    else:
        path = spec.path.format(**(setup(stack, token) if setup else {}))
        before = AuditEntry.count()
        if spec.auth == "node":
            answer = stack.node(spec.method, path, body=body)
        else:
            answer = stack.call(spec.method, path, token if spec.auth == "admin" else None,
                                body=body)
    assert 200 <= answer.status < 300, answer
    after = sorted(AuditEntry.scan(), key=lambda e: e.sort_key)
    assert len(after) == before + 1
    newest = [e for e in after if e.action == spec.audit]
    assert newest, f"no {spec.audit} entry"
