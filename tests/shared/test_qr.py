"""The QR codes the pages draw: accessible inline SVG that a phone's
decoder reads back (zxing-cpp, the library behind many scanner apps)."""

import re

import pytest
import zxingcpp

from shared.qr import qr_svg

_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")


def test_qr_svg_is_an_accessible_inline_svg() -> None:
    svg = qr_svg("http://127.0.0.1:8001/m/face?s=abc", title='小程序码 "x"')
    assert svg.startswith("<svg ") and 'role="img"' in svg and 'aria-label="小程序码 &quot;x&quot;"' in svg
    assert "<path" in svg and "<?xml" not in svg and "<script" not in svg and "style=" not in svg


def decode(svg: str, scale: int = 4) -> list[str]:
    """Rasterise the drawn runs (white background) and decode the image."""
    side_modules = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    side = side_modules * scale
    pixels = bytearray([255]) * (side * side)
    for x, y, n in ((int(a), int(b), int(c)) for a, b, c in _RUN.findall(svg)):
        for dy in range(scale):
            row = (y * scale + dy) * side
            pixels[row + x * scale : row + (x + n) * scale] = bytes(n * scale)
    return [result.text for result in zxingcpp.read_barcodes(memoryview(pixels).cast("B", shape=[side, side]))]


@pytest.mark.parametrize(
    "data",
    [
        "http://127.0.0.1:8001/qr/scan/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_",
        "https://tyrz.gd.gov.cn/m/licence?s=" + "x" * 120,
        "http://127.0.0.1:8001/m/face?s=abc",
    ],
)
def test_a_phone_reads_back_exactly_what_was_encoded(data: str) -> None:
    assert decode(qr_svg(data)) == [data]
