"""单位所在地: Guangdong's prefecture-level cities and their division codes
(GB/T 2260). The first six digits of a 单位管理码 are the city's code."""

from __future__ import annotations

__all__ = ["GUANGDONG_CITIES", "region_label"]

GUANGDONG_CITIES: dict[str, str] = {
    "440100": "广州市",
    "440200": "韶关市",
    "440300": "深圳市",
    "440400": "珠海市",
    "440500": "汕头市",
    "440600": "佛山市",
    "440700": "江门市",
    "440800": "湛江市",
    "440900": "茂名市",
    "441200": "肇庆市",
    "441300": "惠州市",
    "441400": "梅州市",
    "441500": "汕尾市",
    "441600": "河源市",
    "441700": "阳江市",
    "441800": "清远市",
    "441900": "东莞市",
    "442000": "中山市",
    "445100": "潮州市",
    "445200": "揭阳市",
    "445300": "云浮市",
}


def region_label(code: str | None) -> str:
    city = GUANGDONG_CITIES.get(code or "")
    return f"广东省{city}" if city else "—"
