"""Protocol errors not in Authlib's set (ASCII codes only, STYLE habit 4)."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import OAuth2Error

__all__ = ["UnmetAuthenticationRequirementsError", "NotPrefetched"]


class NotPrefetched(LookupError):
    """A hot path (:mod:`.hot_paths`) met something it did not read first: a
    grant asked storage for it, or a hook cannot answer on the event loop.
    The request then takes the general path."""


class UnmetAuthenticationRequirementsError(OAuth2Error):
    """OpenID Connect Core 1.0 errata / RFC 9470 §4: the essential ``acr``
    asked for cannot be met by the authenticated user."""

    error = "unmet_authentication_requirements"
