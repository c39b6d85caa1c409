"""Progressive trust (chalicelib.domain.trust): tiers by age, precedence of limits,
federation domain syntax. Pure: no AWS."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import trust
from chalicelib.domain.server_config import default_config
from chalicelib.domain.trust import TrustConfig

H = 3600
CFG = TrustConfig()  # the seed's defaults: 6 h new, 24 h established, 10 / 60 / 300
T0 = 1_759_000_000


def eff(age, *, verified=False, blocked=False, custom=None, custom_expires=None, cfg=CFG):
    return trust.effective(T0, T0 + age, verified=verified, blocked=blocked,
                           custom_limit=custom, custom_expires_at=custom_expires, cfg=cfg)


def test_config_from_the_seed_defaults():
    assert TrustConfig.from_config(default_config("chat.example.com")) == CFG
    assert TrustConfig.from_config({"progressive_trust": {"new_tier_limit": 15}}).new_tier_limit == 15


@pytest.mark.parametrize("age, tier, limit", [
    (0, "new", 10), (6 * H - 1, "new", 10), (6 * H, "established", 60),
    (30 * H - 1, "established", 60), (30 * H, "trusted", 300), (400 * 24 * H, "trusted", 300),
    (-5, "new", 10),  # first_seen a little ahead of this clock
])
def test_tiers_by_age_exact_to_the_second(age, tier, limit):
    result = eff(age)
    assert (result.tier, result.rate_limit, result.source) == (tier, limit, "progressive")


def test_next_tier_at_tells_when_the_limit_changes():
    assert eff(0).next_tier_at == T0 + 6 * H
    assert eff(7 * H).next_tier_at == T0 + 30 * H
    assert eff(31 * H).next_tier_at is None


def test_verified_gets_the_trusted_limit_whatever_its_age():
    result = eff(0, verified=True)
    assert (result.tier, result.rate_limit, result.source) == ("verified", 300, "verified")


def test_blocked_is_zero_whatever_else_is_set():
    result = eff(100 * H, verified=True, blocked=True, custom=5000)
    assert (result.tier, result.rate_limit, result.source) == ("blocked", 0, "blocked")


def test_custom_limit_wins_until_it_expires():
    live = eff(0, verified=True, custom=1000, custom_expires=T0 + 60)
    assert (live.tier, live.rate_limit, live.source, live.expires_at) == (
        "verified", 1000, "custom", T0 + 60)
    expired = eff(60, verified=True, custom=1000, custom_expires=T0 + 60)
    assert (expired.rate_limit, expired.source, expired.expires_at) == (300, "verified", None)
    permanent = eff(10 ** 7, custom=0)
    assert (permanent.rate_limit, permanent.source, permanent.expires_at) == (0, "custom", None)


def test_progressive_trust_disabled_means_trusted_limit_for_all():
    off = TrustConfig(enabled=False)
    result = eff(0, cfg=off)
    assert (result.tier, result.rate_limit, result.next_tier_at) == ("trusted", 300, None)


def test_display_names_are_the_seeds():
    assert [trust.display(t) for t in trust.TIERS + (trust.BLOCKED,)] == [
        "New", "Established", "Trusted", "Verified", "Blocked"]


# --- properties ---------------------------------------------------------------------------

ORDER = {"new": 0, "established": 1, "trusted": 2}

configs = st.builds(
    lambda enabled, nh, eh, limits, threshold: TrustConfig(
        enabled=enabled, new_tier_duration_hours=nh, established_tier_duration_hours=eh,
        new_tier_limit=limits[0], established_tier_limit=limits[1], trusted_tier_limit=limits[2],
        spam_report_block_threshold=threshold),
    st.booleans(), st.integers(1, 24 * 365), st.integers(1, 24 * 365),
    st.lists(st.integers(1, 10000), min_size=3, max_size=3).map(sorted),
    st.integers(1, 1000))
ages = st.integers(-10 * H, 3 * 365 * 24 * H)


@given(configs, ages, ages)
def test_tier_and_limit_are_monotone_in_age(cfg, a, b):
    young, old = sorted((a, b))
    t_young = trust.progressive_tier(T0, T0 + young, cfg)
    t_old = trust.progressive_tier(T0, T0 + old, cfg)
    assert ORDER[t_young] <= ORDER[t_old]
    assert eff(young, cfg=cfg).rate_limit <= eff(old, cfg=cfg).rate_limit


@given(configs, ages)
def test_tier_boundaries_match_the_durations(cfg, age):
    tier = trust.progressive_tier(T0, T0 + age, cfg)
    if not cfg.enabled:
        assert tier == "trusted"
    elif age < cfg.new_tier_duration_hours * H:
        assert tier == "new"
    elif age < (cfg.new_tier_duration_hours + cfg.established_tier_duration_hours) * H:
        assert tier == "established"
    else:
        assert tier == "trusted"


@given(configs, ages, st.booleans(), st.booleans(),
       st.one_of(st.none(), st.integers(0, 100000)),
       st.one_of(st.none(), st.integers(-10 * H, 10 * H)))
def test_precedence_blocked_custom_verified_progressive(cfg, age, verified, blocked, custom,
                                                        expires_in):
    expires = None if expires_in is None else T0 + age + expires_in
    result = eff(age, verified=verified, blocked=blocked, custom=custom, custom_expires=expires,
                 cfg=cfg)
    live_custom = custom is not None and (expires is None or expires_in > 0)
    if blocked:
        assert (result.rate_limit, result.source, result.tier) == (0, "blocked", "blocked")
    elif live_custom:
        assert (result.rate_limit, result.source) == (custom, "custom")
        assert result.tier == ("verified" if verified else
                               trust.progressive_tier(T0, T0 + age, cfg))
    elif verified:
        assert (result.rate_limit, result.source, result.tier) == (
            cfg.trusted_tier_limit, "verified", "verified")
    else:
        assert result.source == "progressive"
        assert result.rate_limit == cfg.limit_of(result.tier)
    assert result.tier in trust.TIERS + (trust.BLOCKED,)


@given(configs, ages)
def test_next_tier_at_is_when_the_tier_changes(cfg, age):
    now = T0 + age
    at = trust.next_tier_at(T0, now, cfg)
    tier = trust.progressive_tier(T0, now, cfg)
    if at is None:
        assert tier == "trusted"
    else:
        assert at > now
        assert trust.progressive_tier(T0, at - 1, cfg) == tier
        assert ORDER[trust.progressive_tier(T0, at, cfg)] == ORDER[tier] + 1


# --- federation domains ---------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("spam-factory.com", "spam-factory.com"), ("Chat.Example.COM.", "chat.example.com"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"), ("a.b", "a.b"),
])
def test_valid_domains(text, expected):
    assert trust.normalize_domain(text) == expected


@pytest.mark.parametrize("text", [
    "", "localhost", "-bad.com", "bad-.com", "a..com", "exa mple.com", "10.0.0.1",
    "bücher.example", "example.com:8448", "a" * 64 + ".com", ".".join(["abc"] * 64),
    "https://example.com", "under_score.com", "  matrix.org ", "matrix.org\n",
])
def test_invalid_domains(text):
    with pytest.raises(ValueError):
        trust.normalize_domain(text)
    assert not (re.fullmatch(trust.DOMAIN_PATTERN, text) and len(text) <= 253)  # schema too


@settings(max_examples=300)
@given(st.from_regex(trust.DOMAIN_PATTERN, fullmatch=True).filter(lambda t: len(t) <= 253))
def test_what_the_schema_pattern_accepts_normalizes(text):
    assert trust.normalize_domain(text) == text.lower().rstrip(".")


@given(st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*"
                     r"\.[a-z]{2,10}\Z"))
def test_generated_hostnames_round_trip(name):
    assert trust.normalize_domain(name.upper()) == name
