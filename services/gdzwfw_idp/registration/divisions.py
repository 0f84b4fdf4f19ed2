"""Guangdong's administrative divisions for the 证件地址 selects.

``data/guangdong_divisions.json`` lists the province's 21 prefecture-level
cities and their county-level divisions (区、县、县级市); 东莞市 and 中山市
have no districts, so their towns and sub-districts (镇、街道) are listed.
"""

from __future__ import annotations

import json
from functools import lru_cache

from services.gdzwfw_idp.settings import DATA_DIR

__all__ = ["divisions", "is_valid_region", "cities_of"]


@lru_cache(maxsize=1)
def divisions() -> dict:
    """``{"provinces": [{"code", "name", "cities": [{"code", "name", "districts": [{"code"?, "name"}]}]}]}``."""
    with open(DATA_DIR / "guangdong_divisions.json", encoding="utf-8") as f:
        return json.load(f)


def cities_of(province: str) -> list[dict]:
    for p in divisions()["provinces"]:
        if p["name"] == province:
            return p["cities"]
    return []


def is_valid_region(province: str, city: str, district: str) -> bool:
    for c in cities_of(province):
        if c["name"] == city:
            return any(d["name"] == district for d in c["districts"])
    return False
