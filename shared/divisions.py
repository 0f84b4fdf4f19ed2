"""Guangdong's administrative divisions (``data/guangdong_divisions.json``):
the province's 21 prefecture-level cities and their county-level divisions
(区、县、县级市); 东莞市 and 中山市 have no districts, so their towns and
sub-districts (镇、街道) are listed, without codes. gdzwfw_idp's 证件地址 selects
read it, and the refund portal names the district a unit is registered in
(digits 3–8 of its 统一社会信用代码 are the registering authority's division code).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

__all__ = ["divisions", "division_name", "uscc_division"]

_FILE = Path(__file__).parent / "data" / "guangdong_divisions.json"


@lru_cache(maxsize=1)
def divisions() -> dict:
    """``{"provinces": [{"code", "name", "cities": [{"code", "name", "districts": [{"code"?, "name"}]}]}]}``."""
    with open(_FILE, encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for province in divisions()["provinces"]:
        for city in province["cities"]:
            names[city["code"]] = city["name"]
            for district in city["districts"]:
                if "code" in district:
                    names[district["code"]] = f"{city['name']}{district['name']}"
    return names


def division_name(code: str) -> str | None:
    """``440104`` → 广州市越秀区, ``441900`` → 东莞市, ``440101`` (a city's
    own 市辖区 code) → 广州市; None for a code not in Guangdong's list."""
    names = _names()
    return names.get(code) or (names.get(code[:4] + "00") if len(code) == 6 else None)


def uscc_division(uscc: str) -> str:
    """The division code inside a 统一社会信用代码 (its 3rd to 8th characters)."""
    return uscc[2:8]
