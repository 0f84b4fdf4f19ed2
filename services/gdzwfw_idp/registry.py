"""法人基础库 and 人口库: reference tables loaded from CSV (DESIGN.md § Stand-ins).

The checks really compare the records: a legal person's USCC must be in the
registry, in a living state, with the same name and legal representative; a
natural person's name must match the ID number.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.models import LegalPersonRecord, PersonRecord
from shared.db import Database
from shared.kvstore import KeyValueStore

__all__ = ["load_registries", "check_legal_person", "check_person", "RegistryMismatch", "find_legal_person"]

log = logging.getLogger("registry")
LIVING = "存续"


def _normalise_name(value: str) -> str:
    # Full-width and half-width brackets are the same bracket on a licence.
    return "".join((value or "").split()).replace("(", "（").replace(")", "）")


def _load(db: Database, kv: KeyValueStore, *, path: Path, model: type, key: str) -> int:
    """Replace the table's rows with the file's, unless this exact file is loaded."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    marker = f"registry-loaded:{model.__tablename__}"
    with db.transaction() as s:
        count = s.execute(select(func.count()).select_from(model)).scalar_one()
    if kv.get(marker) == digest and count:
        return 0
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    with db.transaction() as s:
        s.execute(delete(model))
        if rows:
            s.execute(insert(model), [{k: (v or "").strip() for k, v in row.items()} for row in rows])
    kv.set(marker, digest, 365 * 86400)
    log.info("registry loaded", extra={"fields": {"table": model.__tablename__, "rows": len(rows), "key": key}})
    return len(rows)


def load_registries(db: Database, kv: KeyValueStore, *, legal_csv: Path | None, population_csv: Path | None) -> None:
    if legal_csv is not None:
        _load(db, kv, path=legal_csv, model=LegalPersonRecord, key="uscc")
    if population_csv is not None:
        _load(db, kv, path=population_csv, model=PersonRecord, key="id_number")


@dataclass
class RegistryMismatch:
    """Which fields disagree with the registry, with the message for each."""

    errors: dict[str, str]


def find_legal_person(db: Session, *, uscc: str) -> LegalPersonRecord | None:
    return db.get(LegalPersonRecord, uscc)


def check_legal_person(
    db: Session, *, uscc: str, org_name: str, legal_rep_name: str, legal_rep_id_number: str | None
) -> RegistryMismatch | None:
    """证件真实性核验 against 法人基础库; None when every field matches."""
    if db.execute(select(func.count()).select_from(LegalPersonRecord)).scalar_one() == 0:
        return RegistryMismatch({"uscc": msg.REGISTRY_UNAVAILABLE})
    record = db.get(LegalPersonRecord, uscc)
    if record is None:
        return RegistryMismatch({"uscc": msg.REGISTRY_NOT_FOUND})
    if record.status != LIVING:
        return RegistryMismatch({"uscc": msg.REGISTRY_CLOSED.format(status=record.status)})
    errors: dict[str, str] = {}
    if _normalise_name(record.org_name) != _normalise_name(org_name):
        errors["org_name"] = msg.REGISTRY_NAME_MISMATCH
    if _normalise_name(record.legal_rep_name) != _normalise_name(legal_rep_name):
        errors["legal_rep_name"] = msg.REGISTRY_REP_NAME_MISMATCH
    if legal_rep_id_number is not None and record.legal_rep_id_number.upper() != legal_rep_id_number.upper():
        errors["legal_rep_id_number"] = msg.REGISTRY_REP_ID_MISMATCH
    return RegistryMismatch(errors) if errors else None


def check_person(db: Session, *, id_number: str, name: str) -> str | None:
    """人口库: None when the name matches the ID number, else the message."""
    if db.execute(select(func.count()).select_from(PersonRecord)).scalar_one() == 0:
        return msg.POPULATION_UNAVAILABLE
    record = db.get(PersonRecord, id_number.upper())
    if record is None or _normalise_name(record.name) != _normalise_name(name):
        return msg.POPULATION_MISMATCH
    return None
