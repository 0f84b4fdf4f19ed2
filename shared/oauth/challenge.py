"""Reading a resource server's ``WWW-Authenticate: Bearer …`` challenge
(RFC 6750 §3), in particular the step-up challenge of RFC 9470 §3::

    Bearer error="insufficient_user_authentication", acr_values="urn:gdzwfw:loa:L2"

Written here rather than taken from a library: the HTTP libraries we use
(httpx, Starlette) build but do not parse challenges, and the grammar needed
is small (RFC 9110 §11.2 auth-params: token "=" ( token / quoted-string )).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BearerChallenge", "parse_bearer_challenge"]

_PARAM = re.compile(r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&\'*+\-.^_`|~0-9A-Za-z]+))\s*(?:,|$)')


@dataclass(frozen=True)
class BearerChallenge:
    error: str | None
    acr_values: tuple[str, ...]
    max_age: int | None

    @property
    def is_step_up(self) -> bool:
        return self.error == "insufficient_user_authentication"


def parse_bearer_challenge(header: str) -> BearerChallenge | None:
    """The Bearer challenge in ``header``, or None when there is none or it
    cannot be read (a caller then treats the answer as a plain refusal)."""
    scheme, _, rest = header.strip().partition(" ")
    # RFC 9449 §7.1: a DPoP-bound token's challenges carry the same parameters.
    if scheme.lower() not in ("bearer", "dpop"):
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None:
            return None
        name, quoted, token = match.groups()
        params.setdefault(name.lower(), re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token)
        position = match.end()
    max_age = params.get("max_age", "")
    return BearerChallenge(
        error=params.get("error"),
        acr_values=tuple(params.get("acr_values", "").split()),
        max_age=int(max_age) if max_age.isdigit() else None,
    )
