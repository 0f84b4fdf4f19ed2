"""Path and query parameters bounded to what the database holds.

An id beyond PostgreSQL's ``integer`` (2**31 - 1) fails there with
NumericValueOutOfRange, and one beyond 64 bits fails in SQLite's driver with
OverflowError: both were 500s. Bounded here, such a number fails validation
and gets the usual 400 page (JSON under /api/) before any query runs::

    @router.get("/records/{record_id}")
    async def record_page(record_id: DbId, year: Year = None) -> Response: ...

Random ids (``TokenId``: uuid hex, URL-safe tokens) are held to their
alphabet the same way: a NUL byte in one failed in PostgreSQL (text cannot
hold it), a 500 found by tests/route_fuzz.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["DB_INT_MAX", "YEAR_MIN", "YEAR_MAX", "DbId", "QueryId", "Year", "PageNo", "TokenId"]

# The largest value of PostgreSQL's integer (the type of every id column);
# SQLite's 64-bit integers hold it too.
DB_INT_MAX = 2**31 - 1
# Years as the forms and lists use them (a year column is an integer too).
YEAR_MIN, YEAR_MAX = 1, 9999

DbId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
"""A row id in the path."""

QueryId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
"""An optional row id in the query string (default it to None)."""

Year = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)]
"""An optional year in the query string (default it to None)."""

PageNo = Annotated[int, Query(le=DB_INT_MAX)]
"""A page number (default it to 1; below 1 the handler reads page 1)."""

TokenId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""A random id in the path (uuid hex, or a URL-safe token)."""
