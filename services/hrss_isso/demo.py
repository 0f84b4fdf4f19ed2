"""Demo units for development mode only (README lists them).

Each is linked in advance to the matching demo legal person at gdzwfw_idp
by USCC; the provider's ``sub`` is bound at the first federated login.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select

from services.hrss_isso.models import ProvincialLink, Unit
from services.hrss_isso.units import new_unit_id
from shared.clock import Clock
from shared.db import Database
from shared.settings import ClientConfig

__all__ = ["DEMO_UNITS", "DEMO_CLIENTS", "load_demo_data"]

DEMO_CLIENTS = [
    ClientConfig(
        client_id="demo-rp",
        client_secret=SecretStr("demo-rp-secret"),
        client_name="演示应用（demo-rp）",
        redirect_uris=["http://127.0.0.1:8099/cb"],
        post_logout_redirect_uris=["http://127.0.0.1:8099/"],
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid profile",
    )
]

DEMO_UNITS = [
    {"unit_code": "44010600001", "uscc": "91440106MA5DL1A170", "org_name": "广州市天河区示范科技有限公司"},
    {"unit_code": "44010400002", "uscc": "91440104MA5DL2B24P", "org_name": "广州市越秀区示范贸易有限公司"},
    {"unit_code": "44010500003", "uscc": "91440105MA5DL3C31T", "org_name": "广州市荔湾区示范制造有限公司"},
]


def load_demo_data(db: Database, *, clock: Clock, gdzwfw_issuer: str) -> None:
    with db.transaction() as s:
        for spec in DEMO_UNITS:
            if s.execute(select(Unit.id).where(Unit.uscc == spec["uscc"])).first() is not None:
                continue
            unit = Unit(id=new_unit_id(), status="active", created_at=clock.now(), **spec)
            s.add(unit)
            s.flush()
            s.add(ProvincialLink(unit_id=unit.id, issuer=gdzwfw_issuer.rstrip("/"), uscc=spec["uscc"], subject=None, linked_at=clock.now()))
