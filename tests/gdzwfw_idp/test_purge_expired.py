"""``manage purge-expired`` keeps replay detection and drops what is long dead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from services.gdzwfw_idp.models import provider_tables
from shared.oauth.provider.store import ProviderStore
from tests.gdzwfw_idp.conftest import Idp
from tests.gdzwfw_idp.flows import tokens_for


def _count(idp: Idp, table) -> int:
    with idp.app.state.db.transaction() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_purge_keeps_recent_and_removes_long_expired_codes_and_tokens(idp: Idp) -> None:
    tokens_for(idp, "demo_l2")
    assert _count(idp, provider_tables.token) == 1 and _count(idp, provider_tables.authorization_code) == 1

    def purge(at: dt.datetime) -> int:
        with idp.app.state.db.transaction() as s:
            return ProviderStore(s, provider_tables, idp.clock).purge_expired(before=at)

    assert purge(idp.clock.now() - dt.timedelta(days=1)) == 0
    later = idp.clock.now() + dt.timedelta(seconds=idp.settings.refresh_token_ttl + 1)
    assert purge(later) == 2
    assert _count(idp, provider_tables.token) == 0 and _count(idp, provider_tables.authorization_code) == 0
