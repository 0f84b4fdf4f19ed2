"""Where a service may send a browser back to: a path on this site only."""

from __future__ import annotations

__all__ = ["local_path"]


def local_path(value: str) -> str | None:
    """``value`` if it is a path on this site, else None: no scheme, no
    ``//host``, no backslash (browsers read ``/\\host`` as another site), no
    control characters (header splitting). The return address of a login or
    of the 关怀版 switch comes from the query and must not make an open redirect."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(c < " " for c in value):
        return None
    return value
