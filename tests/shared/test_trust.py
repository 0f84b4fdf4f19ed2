"""The trust-level vocabulary (DESIGN.md § Trust levels) and how the provider
reads a level requirement out of the ``claims`` parameter (OIDC Core §5.5.1)."""

from __future__ import annotations

import json

import pytest

from shared.oauth.provider.interaction import essential_acr, is_stale
from shared.oauth.provider.models import Principal
from shared.trust import TrustLevel, lowest_requested, require_level_claims

L1, L2, L3 = "urn:gdzwfw:loa:L1", "urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3"


# -- TrustLevel ---------------------------------------------------------------------
def test_levels_are_ordered() -> None:
    assert TrustLevel.L1 < TrustLevel.L2 < TrustLevel.L3
    assert max(TrustLevel) is TrustLevel.L3 and min(TrustLevel) is TrustLevel.L1


def test_acr_and_name_round_trip() -> None:
    for level in TrustLevel:
        assert level.acr == f"urn:gdzwfw:loa:{level.name}"
        assert TrustLevel.from_acr(level.acr) is level
        assert TrustLevel.from_name(level.name) is level


@pytest.mark.parametrize(
    "acr",
    [
        None,
        "",
        "L2",
        "urn:gdzwfw:loa:",
        "urn:gdzwfw:loa:L4",
        "urn:gdzwfw:loa:l2",
        "urn:other:loa:L2",
        "URN:GDZWFW:LOA:L2",
        " urn:gdzwfw:loa:L2",
        "urn:gdzwfw:loa:L2 ",
        "urn:gdzwfw:loa:acr",
    ],
)
def test_unknown_acr_values_are_no_level(acr: str | None) -> None:
    assert TrustLevel.from_acr(acr) is None


@pytest.mark.parametrize("name", [None, "", "L0", "l1", "三级", "acr"])
def test_unknown_names_are_no_level(name: str | None) -> None:
    assert TrustLevel.from_name(name) is None


def test_labels_follow_the_seed() -> None:
    assert TrustLevel.L1.label == "三级（原L1）"
    assert TrustLevel.L2.label == "四级（原L2）"
    assert TrustLevel.L3.label == "五级（原L3）"


def test_lowest_requested_is_the_weakest_known_level() -> None:
    assert lowest_requested([L3, L2]) is TrustLevel.L2
    assert lowest_requested(["urn:unknown", L3]) is TrustLevel.L3
    assert lowest_requested(["urn:unknown"]) is None
    assert lowest_requested([]) is None


# -- essential_acr ---------------------------------------------------------------------------
def claims(acr: object) -> str:
    return json.dumps({"id_token": {"acr": acr}})


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (claims({"essential": True, "values": [L2]}), TrustLevel.L2),
        (claims({"essential": True, "values": [L3, L2]}), TrustLevel.L2),
        (claims({"essential": True, "value": L3}), TrustLevel.L3),
        (claims({"essential": True, "values": ["urn:unknown", L2]}), TrustLevel.L2),
        (json.dumps({"id_token": {"acr": {"essential": True, "values": [L2]}}, "userinfo": {"name": None}}), TrustLevel.L2),
    ],
)
def test_an_essential_acr_claim_demands_its_lowest_known_level(param: str, expected: TrustLevel) -> None:
    assert essential_acr(param) is expected


@pytest.mark.parametrize(
    "param",
    [
        claims({"essential": False, "values": [L2]}),
        claims({"values": [L2]}),  # voluntary
        claims({"essential": "true", "values": [L2]}),  # not the JSON boolean
        claims({"essential": 1, "values": [L2]}),
        claims(None),  # "acr": null asks for the claim, requires nothing
        claims({"essential": True}),  # essential, but no level named
        claims({"essential": True, "values": []}),
        claims({"essential": True, "values": ["urn:unknown"]}),
        claims({"essential": True, "values": L2}),  # a string, not a list
        claims({"essential": True, "value": [L2]}),  # "value" must be a string
        json.dumps({"userinfo": {"acr": {"essential": True, "values": [L2]}}}),  # only the ID token's acr counts
    ],
)
def test_a_non_essential_or_unusable_acr_claim_demands_nothing(param: str) -> None:
    assert essential_acr(param) is None


@pytest.mark.parametrize(
    "param",
    [None, "", "{", "not json", "[]", "[1, 2]", '"text"', "42", "null", '{"id_token": null}', '{"id_token": []}', '{"id_token": "acr"}'],
)
def test_a_malformed_claims_parameter_demands_nothing(param: str | None) -> None:
    assert essential_acr(param) is None


# -- is_stale (max_age) ----------------------------------------------------------------------
def principal(auth_time: int) -> Principal:
    return Principal(sub="s", claims={}, acr=L1, amr=["pwd"], auth_time=auth_time)


@pytest.mark.parametrize(
    ("max_age", "elapsed", "stale"),
    [(None, 10**6, False), ("", 10**6, False), ("300", 300, False), ("300", 301, True), ("abc", 10**6, False), ("-5", 1, True)],
)
def test_max_age(max_age: str | None, elapsed: int, stale: bool) -> None:
    now = 1_800_000_000
    assert is_stale(principal(now - elapsed), max_age, now) is stale


def test_a_required_level_becomes_an_essential_acr_claim_keeping_other_requests() -> None:
    plain = json.loads(require_level_claims(TrustLevel.L2))
    assert plain == {"id_token": {"acr": {"essential": True, "values": ["urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3"]}}}
    merged = json.loads(require_level_claims(TrustLevel.L3, '{"userinfo":{"org_name":null},"id_token":{"uscc":null}}'))
    assert merged["userinfo"] == {"org_name": None} and merged["id_token"]["uscc"] is None
    assert merged["id_token"]["acr"]["values"] == ["urn:gdzwfw:loa:L3"]
    # Something unreadable is replaced, not guessed at.
    assert json.loads(require_level_claims(TrustLevel.L2, "not json")) == plain
