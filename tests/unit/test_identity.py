"""Pure identity pieces: device addresses, the admin list, permissions, key text."""
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import admin_list, api_keys, devices, permissions

VECTOR_PUBLIC = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def test_spec_vector_address():
    key = devices.parse_public_key(VECTOR_PUBLIC)
    assert devices.device_address(key, "chat.example.com") == \
        "40bca4eaf9d2b097ff8dbaa4d61767ed@chat.example.com"


def test_spec_vector_public_key_from_seed():
    from nacl.signing import SigningKey
    assert SigningKey(bytes(range(32))).verify_key.encode().hex() == VECTOR_PUBLIC


@pytest.mark.parametrize("bad", ["", "00" * 31, "zz" * 32, "00" * 33, None, 5])
def test_public_key_must_be_64_hex(bad):
    with pytest.raises(ValueError):
        devices.parse_public_key(bad)


@given(st.binary(min_size=32, max_size=32))
def test_address_round_trips(key):
    address = devices.device_address(key, "chat.example.com")
    device_id, server = devices.split_address(address)
    assert len(device_id) == 32 and server == "chat.example.com"


def test_seed_admin_list_parses_with_levels():
    text = '''[server.admins]
# Full device address format: device_id_hex@server_domain
"a1b2c3d4e5f61728394a5b6c7d8e9f10@server.com" = ["all"]
"f1e2d3c4b5a6978869504132e1f2d3c4@server.com" = ["verify_devices", "block_federation", "view_metrics"]
"c4b5a6978869504132e1f2d3c4b5a697@server.com" = ["view_metrics", "view_audit"]
'''
    admins = admin_list.parse(text)
    levels = [permissions.admin_level(p) for p in admins.values()]
    assert levels == ["admin", "moderator", "viewer"]
    assert admin_list.parse(admin_list.render(admins)) == admins


@pytest.mark.parametrize("text", ['[server.admins]\n"a@b" = ["fly"]', '[server.admins]\n"a@b" = "all"',
                                  "not toml ["])
def test_bad_admin_lists_are_refused(text):
    with pytest.raises(admin_list.AdminListError):
        admin_list.parse(text)


def test_permission_levels():
    assert permissions.admin_level(["all"]) == "admin"
    assert permissions.admin_level(["manage_config"]) == "admin"
    assert permissions.admin_level(["modify_rate_limits", "view_audit"]) == "moderator"
    assert permissions.admin_level([]) == "viewer"
    assert permissions.allows(["all"], "erase_data")
    assert not permissions.allows(["view_metrics"], "manage_config")


@given(st.sampled_from(api_keys.ENVIRONMENTS))
def test_generated_keys_are_well_formed_and_unique(env):
    a, b = api_keys.generate(env), api_keys.generate(env)
    assert a != b and api_keys.well_formed(a)
    assert re.match(rf"^j17_0_{env}_[A-Za-z0-9]{{32}}$", a)
    assert api_keys.display_prefix(a) == a[: len(f"j17_0_{env}_") + 4]
    assert len(api_keys.key_hash(a)) == 64


def test_password_hashes_are_argon2id_and_verify():
    from chalicelib.identity import passwords
    stored = passwords.hash_password("s3cret")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "s3cret")
    assert not passwords.verify_password(stored, "S3cret")
    assert not passwords.verify_password(None, "s3cret")


def test_readme_tables_are_generated_from_the_code():
    """Routes and error codes in the README come from the declarations (scripts/gen_docs)."""
    from scripts import gen_docs
    current = gen_docs.README.read_text()
    assert gen_docs.render(current) == current, "run: python -m scripts.gen_docs"


def test_error_codes_and_names_are_unique():
    from chalicelib.core.errors import _KINDS
    codes = [k.code for k in _KINDS]
    names = [k.name for k in _KINDS]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    assert len(names) == len(set(names))
