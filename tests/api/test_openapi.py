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
