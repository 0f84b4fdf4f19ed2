"""Reading a resource server's Bearer challenge (RFC 6750 §3, RFC 9470 §3)."""

from __future__ import annotations

import pytest

from services.refund_portal.admission import insufficient_challenge, invalid_token_challenge
from shared.oauth.challenge import parse_bearer_challenge


def test_the_refund_apis_own_step_up_challenge_reads_back() -> None:
    parsed = parse_bearer_challenge(insufficient_challenge())
    assert parsed is not None and parsed.is_step_up
    assert parsed.acr_values == ("urn:gdzwfw:loa:L2",) and parsed.max_age is None


def test_several_levels_max_age_escapes_and_token_values() -> None:
    parsed = parse_bearer_challenge(
        'bearer realm="a \\"quoted\\" realm", error=insufficient_user_authentication, '
        'acr_values="urn:gdzwfw:loa:L2 urn:gdzwfw:loa:L3", max_age=300'
    )
    assert parsed is not None and parsed.is_step_up
    assert parsed.acr_values == ("urn:gdzwfw:loa:L2", "urn:gdzwfw:loa:L3") and parsed.max_age == 300


@pytest.mark.parametrize("header", ["", 'Basic realm="x"', 'Bearer error="unterminated', "Bearer error=a b=", "Bearer ,,,"])
def test_what_cannot_be_read_is_no_challenge(header: str) -> None:
    assert parse_bearer_challenge(header) is None


def test_invalid_token_is_no_step_up() -> None:
    parsed = parse_bearer_challenge(invalid_token_challenge())
    assert parsed is not None and not parsed.is_step_up and parsed.acr_values == ()
