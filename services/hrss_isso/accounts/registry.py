"""The population registry (人口库) stand-in, DESIGN.md § Stand-ins.

A reference table loaded from CSV (``id_number,name,valid_until,status``;
``valid_until`` is a date or 长期). The check really compares the record:
the ID number must exist, the name and the card's expiry date must match,
the card must still be valid and the person not deregistered (注销).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["PopulationRecord", "PopulationRegistry", "CsvPopulationRegistry", "RegistryCheck"]


@dataclass(frozen=True)
class PopulationRecord:
    id_number: str
    name: str
    valid_until: dt.date | None  # None: 长期
    status: str


@dataclass(frozen=True)
class RegistryCheck:
    """``outcome``: match | no_record | mismatch | card_expired | deregistered."""

    outcome: str
    record: PopulationRecord | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "match"


class PopulationRegistry(Protocol):
    def check(self, *, id_number: str, name: str, valid_until: dt.date | None, today: dt.date) -> RegistryCheck: ...


def _parse_valid_until(text: str) -> dt.date | None:
    text = text.strip()
    return None if text in ("长期", "") else dt.date.fromisoformat(text)


class CsvPopulationRegistry:
    """Reads the CSV once; the table is reference data, never written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, PopulationRecord] = {}
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                record = PopulationRecord(
                    id_number=row["id_number"].strip().upper(),
                    name=row["name"].strip(),
                    valid_until=_parse_valid_until(row["valid_until"]),
                    status=row["status"].strip(),
                )
                self._records[record.id_number] = record

    def check(self, *, id_number: str, name: str, valid_until: dt.date | None, today: dt.date) -> RegistryCheck:
        record = self._records.get(id_number)
        if record is None:
            return RegistryCheck("no_record")
        if record.name != name.strip() or record.valid_until != valid_until:
            return RegistryCheck("mismatch")
        if record.status != "正常":
            return RegistryCheck("deregistered", record)
        if record.valid_until is not None and record.valid_until < today:
            return RegistryCheck("card_expired", record)
        return RegistryCheck("match", record)
