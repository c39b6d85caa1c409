"""The device registry's internal route."""
from nacl.signing import SigningKey

from chalicelib.store.tables import Device
from tests.api.conftest import VECTOR_ADDRESS, VECTOR_SEED


def test_register_device_then_again_returns_same_record(stack):
    key = SigningKey.generate().verify_key.encode().hex()
    first = stack.node("POST", "/internal/devices", body={"public_key": key})
    assert first.status == 201
    assert {"device_address", "trust_tier", "first_seen"} <= set(first.json)
    assert first.json["trust_tier"] == "new"
    again = stack.node("POST", "/internal/devices", body={"public_key": key.upper()})
    assert again.status == 200 and again.json == first.json


def test_address_is_blake2b_of_key(stack):
    key = SigningKey(VECTOR_SEED).verify_key.encode().hex()
    answer = stack.node("POST", "/internal/devices", body={"public_key": key})
    assert answer.json["device_address"] == VECTOR_ADDRESS


def test_bad_public_key_is_400_and_stores_nothing(stack):
    before = Device.count()
    answer = stack.node("POST", "/internal/devices", body={"public_key": "zz" * 32})
    assert answer.status == 400 and answer.json["details"][0]["path"] == "public_key"
    assert Device.count() == before


def test_mismatched_address_is_409(stack):
    key = SigningKey.generate().verify_key.encode().hex()
    answer = stack.node("POST", "/internal/devices",
                        body={"public_key": key, "device_address": VECTOR_ADDRESS})
    assert answer.status == 409 and answer.json["error"] == "DEVICE_KEY_MISMATCH"


def test_get_device(stack):
    assert stack.node("GET", f"/internal/devices/{VECTOR_ADDRESS}").json["device_address"] == VECTOR_ADDRESS
    missing = stack.node("GET", "/internal/devices/" + "0" * 32 + "@chat.example.com")
    assert missing.status == 404 and missing.json["code"] == 4013
