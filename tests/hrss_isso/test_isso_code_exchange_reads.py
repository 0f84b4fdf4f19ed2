"""The ISSO's code redemption goes to the general path before anything is
read for it (its claims need the unit, the person and the binding, which
only the general path reads): its code row is read once, not first on the
hot path and again on the general one. (Telling on SQLite, where the hot
path's read goes through the same engine as the general path's; on
PostgreSQL it would go through asyncpg, which this listener does not see.)"""

from __future__ import annotations

from sqlalchemy import Engine, event

from tests.hrss_isso.conftest import Isso
from tests.hrss_isso.flows import unit_tokens


def test_a_code_redemption_reads_its_code_once(isso: Isso) -> None:
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM oauth_authorization_code" in statement and "code_hash" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        tokens = unit_tokens(isso, "yuexiu_maoyi")
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert tokens["access_token"] and tokens["id_token"]
    assert len(reads) == 1
