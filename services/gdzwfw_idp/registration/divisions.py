"""Guangdong's administrative divisions for the 证件地址 selects.

``shared/data/guangdong_divisions.json`` (read by :mod:`shared.divisions`) lists the province's 21 prefecture-level
cities and their county-level divisions (区、县、县级市); 东莞市 and 中山市
have no districts, so their towns and sub-districts (镇、街道) are listed.
"""

from __future__ import annotations

from shared.divisions import divisions

__all__ = ["divisions", "is_valid_region", "cities_of"]


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
