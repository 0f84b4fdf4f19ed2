"""QR codes as inline SVG (no image library needed), for pages that show one.

The ``qrcode`` package encodes (error correction M, the smallest version
that fits); the SVG is one ``<path>`` of horizontal runs of dark modules.
The result is a standalone ``<svg>`` element, safe to put in a template
with ``|safe`` because the encoded data only ever appears as drawn modules.

Why not qrcode's own SVG factories: 法人登录 opens on 微信扫码, so every
login page draws a code, and with them it cost ~14 ms of CPU per page (a
third of the login flow's server time without the password hash): ~7 ms to
score the eight mask patterns and ~5 ms to build the SVG as an element
tree, one path segment per module. A fixed mask is valid QR (ISO/IEC 18004
lets the encoder choose; the score only avoids patterns that are harder to
read, which at error correction M and phone-camera resolution does not
matter), and the run-length path is a few lines: ~2 ms in all.
"""

from __future__ import annotations

import html

import qrcode

__all__ = ["qr_svg", "dark_runs"]

# Mask 0: (row + column) mod 2; any of the eight is valid.
_MASK = 0


def dark_runs(data: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The code's size in modules (quiet zone excluded) and its dark runs
    as (row, first column, length)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=_MASK)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((y, start, x - start))
            else:
                x += 1
    return len(matrix), runs


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
