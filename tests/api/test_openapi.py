"""The OpenAPI document is valid 3.1 and describes every declared route."""
from openapi_spec_validator import validate

from chalicelib.http.declarations import ROUTES


def test_openapi_is_valid_and_complete(stack):
    answer = stack.call("GET", "/openapi.json")
    assert answer.status == 200
    doc = answer.json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for spec in ROUTES:
        op = doc["paths"][spec.path][spec.method.lower()]
        if spec.permission:
            assert op["x-permission"]
        if spec.body:
            assert op["requestBody"]["content"]["application/json"]["schema"] == spec.body
        if spec.auth != "public":
            assert op["security"] and "401" in op["responses"]


def test_every_route_declares_its_answer_and_the_document_carries_it(stack):
    """A JSON route without an answer schema would publish `{}`: every one declares it,
    each is a valid JSON Schema, and the OpenAPI document serves exactly that schema."""
    from jsonschema import Draft202012Validator
    doc = stack.call("GET", "/openapi.json").json
    for spec in ROUTES:
        op = doc["paths"][spec.path][spec.method.lower()]
        content = op["responses"][str(spec.status)]["content"]
        assert list(content) == list(spec.media_types), spec.path
        if "application/json" in spec.media_types:
            assert spec.response, f"{spec.method} {spec.path} declares no answer schema"
            Draft202012Validator.check_schema(spec.response)
            assert content["application/json"]["schema"] == spec.response
        for status in spec.statuses:
            assert str(status) in op["responses"]


def test_an_answer_outside_its_schema_fails_the_test(stack, monkeypatch):
    """The check every API test relies on: an answer that does not match is caught."""
    import pytest
    spec = next(r for r in ROUTES if r.path == "/admin/v1/auth/challenge")
    monkeypatch.setattr(spec, "response", {"type": "object", "required": ["no_such_field"]})
    with pytest.raises(AssertionError, match="outside its declared schema"):
        stack.call("GET", "/admin/v1/auth/challenge")
