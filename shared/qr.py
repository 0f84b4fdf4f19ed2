"""QR codes as inline SVG (no image library needed), for pages that show one.

zxing-cpp encodes (error correction M, the smallest version that fits, the
mask chosen by ISO/IEC 18004's penalty score); the SVG is one ``<path>`` of
horizontal runs of dark modules. The result is a standalone ``<svg>``
element, safe to put in a template with ``|safe`` because the encoded data
only ever appears as drawn modules.

Why zxing-cpp and not the ``qrcode`` package: 法人登录 opens on 微信扫码, so
every login page draws a code. ``qrcode`` is pure Python: its Reed–Solomon
and bit placement cost ~2 ms of CPU per code even with a fixed mask, the
largest single item of the login page's profile (``make bench-peer``).
zxing-cpp's encoder is C++ (~0.3 ms with the mask scored), and the tests
already use its decoder to read the codes back.
"""

from __future__ import annotations

import html
import re

import zxingcpp

__all__ = ["qr_svg", "dark_runs"]

_DARK = re.compile(rb"\x00+")
_ROW_END = b"\xff"


def dark_runs(data: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The code's size in modules (quiet zone excluded) and its dark runs
    as (row, first column, length)."""
    code = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    size = image.shape[0]
    pixels = image.tobytes()  # one byte per module, row by row: 0 dark, 255 light
    # A light byte after each row, so that one scan finds every run and no run crosses a row.
    width = size + 1
    rows = _ROW_END.join(pixels[y * size : (y + 1) * size] for y in range(size))
    return size, [(m.start() // width, m.start() % width, m.end() - m.start()) for m in _DARK.finditer(rows)]


def qr_svg(data: str, *, box_size: int = 8, border: int = 2, title: str = "二维码") -> str:
    size, runs = dark_runs(data)
    side = (size + 2 * border) * box_size
    # In module units (scaled by the viewBox): "M x y h w v 1 h -w z" per run.
    path = "".join(f"M{x + border} {y + border}h{n}v1h-{n}z" for y, x, n in runs)
    return (
        f'<svg role="img" aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{side}" height="{side}" viewBox="0 0 {size + 2 * border} {size + 2 * border}" shape-rendering="crispEdges">'
        f'<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )
