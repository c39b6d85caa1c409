"""The platform's identifier rule: UUID v4/v5, humane codes, tagged UUIDs, singletons."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import identifiers

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SPEC = {"singletons": ["twilio_webhook"]}


@given(st.uuids(version=4) | st.uuids(version=5), st.booleans())
def test_uuids_of_version_4_and_5_in_any_case(u, upper):
    text = str(u).upper() if upper else str(u)
    assert identifiers.problem(text, None) is None
    assert identifiers.problem(f"{text}:2026", None) is None        # tagged


@given(st.sampled_from([1, 3]).flatmap(lambda v: st.uuids(version=v)))
def test_other_uuid_versions_are_refused(u):
    assert "is not an identifier" in identifiers.problem(str(u), None)


@given(st.text(alphabet=CROCKFORD + CROCKFORD.lower(), min_size=9, max_size=9))
def test_humane_codes_are_nine_crockford_characters(code):
    assert identifiers.problem(code, None) is None


@pytest.mark.parametrize("text", ["ABC123XY", "ABC123XYZ0", "ABCI23XYZ", "ABCL23XYZ",
                                  "ABCO23XYZ", "ABCU23XYZ", "o1", "", "user:1", "a b",
                                  "060d0274-ee5d-11f1-9176-02fc00000001",   # version 1
                                  "2e17a1b6-66bb-4f3c-b283-6cbde787ac04:",  # empty tag
                                  "2e17a1b6-66bb-4f3c-7283-6cbde787ac04",   # wrong variant
                                  "twilio"])
def test_anything_else_is_refused_naming_the_forms(text):
    reason = identifiers.problem(text, SPEC)
    assert reason and "UUID" in reason and "humane code" in reason and "singleton" in reason


def test_singletons_are_global_and_those_the_spec_declares():
    assert identifiers.problem("global", None) is None
    assert identifiers.problem("twilio_webhook", SPEC) is None
    assert identifiers.problem("twilio_webhook", None) is not None
    assert identifiers.problem(5, None) is not None


@given(st.from_regex(identifiers.PATTERN, fullmatch=True))
def test_what_the_documented_pattern_admits_is_an_identifier(text):
    assert identifiers.problem(text, None) is None
