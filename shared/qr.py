"""QR codes as inline SVG (no image library needed), for pages that show one.

Uses the ``qrcode`` package's path-based SVG factory; the result is a
standalone ``<svg>`` element, safe to put in a template with ``|safe``
because the encoded data only ever appears as drawn modules.
"""

from __future__ import annotations

import html
import io

import qrcode
import qrcode.image.svg

__all__ = ["qr_svg"]


def qr_svg(data: str, *, box_size: int = 8, border: int = 2, title: str = "二维码") -> str:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    # An accessible name for screen readers (and for tests).
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" ', 1)
