"""Decisions the authorization endpoint takes beyond Authlib's validation:
``max_age``, the essential ``acr`` claim, and the login hand-off.

OIDC Core §5.5.1.1: ``acr_values`` is a *voluntary* request, answered with
the level really reached; an ``acr`` claim with ``"essential": true`` in the
``claims`` parameter is a *requirement*, refused with
``unmet_authentication_requirements`` when the user cannot meet it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from shared.kvstore import KeyValueStore
from shared.oauth.provider.models import Principal
from shared.randomness import TokenSource
from shared.trust import TrustLevel, lowest_requested

__all__ = ["essential_acr", "is_stale", "Interactions", "Interaction"]


def essential_acr(claims_param: str | None) -> TrustLevel | None:
    """The minimum level an essential ``acr`` claim demands, if any.

    A malformed ``claims`` parameter demands nothing (it is ignored as a
    whole rather than guessed at); unknown acr values are ignored.
    """
    if not claims_param:
        return None
    try:
        claims = json.loads(claims_param)
        acr = claims["id_token"]["acr"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(acr, dict) or acr.get("essential") is not True:
        return None
    values = acr.get("values") or ([acr["value"]] if isinstance(acr.get("value"), str) else [])
    return lowest_requested(v for v in values if isinstance(v, str))


def is_stale(principal: Principal, max_age: str | None, now: int) -> bool:
    """OIDC Core §3.1.2.1 ``max_age``: too long since the user authenticated."""
    if max_age is None or max_age == "":
        return False
    try:
        seconds = int(max_age)
    except ValueError:
        return False
    if seconds <= 0:
        # Errata: max_age=0 is equivalent to prompt=login.
        return True
    return now - principal.auth_time > seconds


@dataclass
class Interaction:
    id: str
    params: dict[str, str]
    created: int
    client_id: str
    client_name: str
    requested_prompt: str = ""
    # Parked to wait for a login (True), or for a level to be raised by a
    # user who is already logged in (False: resuming needs no new login).
    needs_login: bool = True


class Interactions:
    """Authorization requests parked while the user logs in (node-oidc-provider's
    interaction sessions), in the shared store so any replica can resume."""

    # The shape of the ids ``_new`` makes (``TokenSource.token``: URL-safe characters).
    _ID = re.compile(r"[A-Za-z0-9_-]{16,43}")

    @classmethod
    def looks_like_id(cls, value: str) -> bool:
        """Whether ``value`` could be an id made here: a page may write such a
        value into other state before reading whether it is parked."""
        return cls._ID.fullmatch(value) is not None

    def __init__(self, store: KeyValueStore, tokens: TokenSource, ttl: int) -> None:
        self.store, self.tokens, self.ttl = store, tokens, ttl

    def create(self, **fields: Any) -> Interaction:
        """Park a request: ``fields`` are :class:`Interaction`'s but its id."""
        interaction = self._new(**fields)
        self.store.set(f"interaction:{interaction.id}", self._data(interaction), self.ttl)
        return interaction

    async def acreate(self, **fields: Any) -> Interaction:
        """``create`` on the event loop (a first authorization request, see hot_paths)."""
        interaction = self._new(**fields)
        await self.store.aset(f"interaction:{interaction.id}", self._data(interaction), self.ttl)
        return interaction

    def _new(
        self,
        *,
        params: dict[str, str],
        created: int,
        client_id: str,
        client_name: str,
        requested_prompt: str = "",
        needs_login: bool = True,
    ) -> Interaction:
        return Interaction(
            id=self.tokens.token(16),
            params=params,
            created=created,
            client_id=client_id,
            client_name=client_name,
            requested_prompt=requested_prompt,
            needs_login=needs_login,
        )

    @staticmethod
    def _data(interaction: Interaction) -> dict[str, Any]:
        data = asdict(interaction)
        del data["id"]
        return data

    def get(self, iid: str) -> Interaction | None:
        return self._parked(iid, self.store.get(f"interaction:{iid}") if iid else None)

    async def aget(self, iid: str) -> Interaction | None:
        """``get`` on the event loop (the login and verification pages read it before their work)."""
        return self._parked(iid, await self.store.aget(f"interaction:{iid}") if iid else None)

    @staticmethod
    def _parked(iid: str, data: dict[str, Any] | None) -> Interaction | None:
        return Interaction(id=iid, **data) if data else None

    async def atake(self, iid: str) -> Interaction | None:
        """The parked request, no longer parked: its resume or its decline
        takes it, so it is answered once, even when two of them come at the
        same moment."""
        return self._parked(iid, await self.store.apop(f"interaction:{iid}") if iid else None)

    async def apark_again(self, interaction: Interaction, now: int) -> None:
        """Park a taken request once more, for what is left of its time: what
        took it did not answer it (the "level too low" page, a resume from a
        browser without the login, a failure)."""
        left = interaction.created + self.ttl - now
        if left > 0:
            await self.store.aset(f"interaction:{interaction.id}", self._data(interaction), left)
