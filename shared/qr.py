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
zxing-cpp's encoder is C++ (~0.25 ms with the mask scored, for a login
page's URL; the path built from its modules ~0.07 ms more), and the tests
already use its decoder to read the codes back.
"""

from __future__ import annotations

import functools
import html

import zxingcpp

__all__ = ["qr_svg"]

_LIGHT = b"\xff"  # to_image: one byte per module, 0 dark, 255 light
# The end of each run's path, by its length (a code is at most 177 modules wide).
_RUN_END = [f"h{n}v1h-{n}z" for n in range(178)]


@functools.lru_cache(maxsize=4)
def _moves(size: int, border: int) -> list[str]:
    """The "M x y" that starts a run at each offset of the rows joined by a
    light byte (x and y counted from the border's outer edge)."""
    width = size + 1
    return [f"M{at % width + border} {at // width + border}" for at in range(width * size)]


def qr_svg(data: str, *, box_size: int = 8, border: int = 2, title: str = "二维码") -> str:
    code = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    size = image.shape[0]
    pixels = image.tobytes()
    # In module units (scaled by the viewBox): "M x y h w v 1 h -w z" per run,
    # row by row. A light byte after each row, so that no run crosses a row;
    # splitting on light bytes yields each dark run (and an empty chunk per
    # other light byte). Written this way because every login page draws a
    # code: a regex match and an f-string per run cost ~200 µs of CPU for its
    # 37 modules (~360 runs), the split and the cached "M x y"s ~70 µs.
    rows = _LIGHT.join([pixels[y : y + size] for y in range(0, size * size, size)])
    moves = _moves(size, border)
    runs = []
    at = 0
    for run in rows.split(_LIGHT):
        if n := len(run):
            runs.append(moves[at] + _RUN_END[n])
        at += n + 1
    path = "".join(runs)
    side = (size + 2 * border) * box_size
    return (
        f'<svg role="img" aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{side}" height="{side}" viewBox="0 0 {size + 2 * border} {size + 2 * border}" shape-rendering="crispEdges">'
        f'<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )
