"""CSRF protection for every HTML form: a synchronizer token in the session.

Forms carry ``<input name="csrf_token">``; POST handlers call
:func:`verify_csrf_form`, which reads the form once and compares in constant
time. SameSite=Lax cookies are a second line, not the only one.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import FormData
from starlette.requests import Request

from shared.randomness import TokenSource

__all__ = ["csrf_token", "verify_csrf_form", "CsrfError"]

_KEY = "csrf"


class CsrfError(Exception):
    """The form's token is missing or does not match the session's."""


def csrf_token(request: Request, tokens: TokenSource) -> str:
    """The session's token, made on first use (templates call it bound to the
    app's token source by :func:`shared.web.app.build_app`)."""
    token = request.session.get(_KEY)
    if not token:
        token = tokens.token(24)
        request.session[_KEY] = token
    return token


async def verify_csrf_form(request: Request) -> FormData:
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get(_KEY)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfError()
    return form
