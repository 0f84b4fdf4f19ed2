"""Flash messages: one line carried in the session to the next page shown."""

from __future__ import annotations

from fastapi import Request

__all__ = ["flash", "pop_flash"]

_FLASH = "flash"


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session[_FLASH] = {"message": message, "kind": kind}


def pop_flash(request: Request) -> dict[str, str] | None:
    return request.session.pop(_FLASH, None)
