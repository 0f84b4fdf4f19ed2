"""A cap on a request body, counted as it arrives.

Starlette's multipart parser spools every uploaded file in full (to memory,
then to disk) before a handler sees the form, whatever its size, and a
chunked upload declares no Content-Length to refuse it by. An upload route
therefore runs its login guard first (a dependency that needs only the
session cookie; the handler reads the form itself, so FastAPI reads nothing
before) and then parses the form from :func:`capped_request`, which stops
reading at the route's cap.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

__all__ = ["BodyTooLarge", "capped_request"]


class BodyTooLarge(Exception):
    """The body passed the route's cap (declared or as it arrived)."""


def capped_request(request: Request, max_bytes: int) -> Request:
    """``request`` whose body raises :class:`BodyTooLarge` when it is read,
    once more than ``max_bytes`` are declared (before anything is read) or
    have arrived; read its form from it."""
    declared = request.headers.get("content-length", "")
    too_large = declared.isdigit() and int(declared) > max_bytes
    received = 0
    upstream = request.receive

    async def receive() -> Message:
        nonlocal received
        if too_large:
            raise BodyTooLarge()
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge()
        return message

    return Request(request.scope, receive)
