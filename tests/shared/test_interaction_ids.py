"""The shape of a parked request's id, which the login page relies on before
it has read whether the request is parked (see Interactions.looks_like_id)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.oauth.provider.interaction import Interactions
from shared.randomness import SequenceTokenSource, SystemTokenSource


class _Store:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def set(self, key: str, value: Any, ttl: int) -> None:
        self.values[key] = value


@pytest.mark.parametrize("tokens", [SystemTokenSource(), SequenceTokenSource()], ids=["system", "sequence"])
def test_every_id_made_has_the_shape(tokens) -> None:
    interactions = Interactions(_Store(), tokens, ttl=600)  # type: ignore[arg-type]
    made = [interactions.create(params={}, created=0, client_id="c", client_name="c").id for _ in range(200)]
    assert all(Interactions.looks_like_id(iid) for iid in made)


@pytest.mark.parametrize(
    "value", ["", "short", "a" * 44, "has space in it 0123", "slash/in/it/0123456", "nul\x00in0123456789abc", "引号0123456789abcdefg"]
)
def test_other_values_do_not(value: str) -> None:
    assert not Interactions.looks_like_id(value)
