"""The headers that tell a browser how to treat every page of a service.

Pages carry authorization codes, states and personal data; the policy keeps
them from being framed (clickjacking of the login and consent buttons), from
running any script but our own static files (an injected ``<script>`` or
``onclick=`` does nothing), from posting forms anywhere but the chain's own
services, and from leaking their URLs in ``Referer``.

:func:`secure_pages` wraps the app's whole middleware stack, Starlette's
``ServerErrorMiddleware`` included: that one sends the 500 page itself,
outside anything ``add_middleware`` installs. The fast lane
(:mod:`shared.web.fastlane`) is answered before the stack and keeps its own
JSON headers: a policy for documents means nothing on a token response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware", "content_security_policy", "origin_of", "secure_pages"]

# A year, the value HSTS preload lists ask for.
HSTS_MAX_AGE = 31536000


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: CSP source expressions match origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, connect_sources: Iterable[str] = (), form_targets: Iterable[str] | None = ()) -> str:
    """The policy of every page.

    ``connect_sources``: origins besides our own that page scripts fetch
    from (gdzwfw_idp's local 「CA助手」). ``form_targets``: origins a form
    submission may end on; Chromium applies ``form-action`` to every
    redirect after the post too, and the login and logout forms redirect
    across the three services (OpenID authorize, callback, end-session).
    ``None`` leaves ``form-action`` out, for a service that cannot know
    where its redirect chains end.
    """
    connect = " ".join(["'self'", *sorted({origin_of(source) for source in connect_sources})])
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        # Only our stylesheets: layout tweaks live in CSS classes, not style="".
        "style-src 'self'",
        "img-src 'self'",
        f"connect-src {connect}",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
    if form_targets is not None:
        directives.append("form-action " + " ".join(["'self'", *sorted({origin_of(target) for target in form_targets})]))
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Pure ASGI: adds the headers to the response start, leaves the body alone
    (no buffering, streaming and file responses pass through as they are)."""

    def __init__(self, app: ASGIApp, *, policy: str, hsts: bool, without_policy: Iterable[str] = ()) -> None:
        self.app = app
        self.without_policy = frozenset(without_policy)
        headers = [
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            # Pages carry codes and states in their URLs; no other site sees them.
            (b"referrer-policy", b"no-referrer"),
        ]
        if hsts:
            # Only where the cookies are Secure: a development server on plain
            # HTTP must not pin the browser to HTTPS for 127.0.0.1.
            headers.append((b"strict-transport-security", f"max-age={HSTS_MAX_AGE}".encode()))
        self.headers = headers
        self.policy = (b"content-security-policy", policy.encode("latin-1"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        ours = self.headers if scope["path"] in self.without_policy else [self.policy, *self.headers]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in ours if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_pages(app: FastAPI, *, policy: str, hsts: bool) -> None:
    """Put :class:`SecurityHeadersMiddleware` outside the app's middleware stack
    (see the module docstring for why not ``add_middleware``)."""
    # FastAPI's /docs (development only) is an inline script loading Swagger UI
    # from a CDN; the policy would leave it blank.
    without_policy = [app.docs_url] if app.docs_url else []
    build: Callable[[], ASGIApp] = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeadersMiddleware(  # type: ignore[method-assign]
        build(), policy=policy, hsts=hsts, without_policy=without_policy
    )
