"""The QR codes the login and registration pages show are drawn by the
browser (static/idp.js, the vendored qrcode-generator): what Chromium drew
is read back by a phone's decoder (zxing-cpp, the library behind many
scanner apps) as exactly the page's one-time session address."""

from __future__ import annotations

import re

import zxingcpp
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChainUrls

_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")


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


# The library's own matrix for a text, in the page that drew it: rows of booleans, isDark(row, col).
_MATRIX = """text => {
  const code = qrcode(0, "M"); code.addData(text, "Byte"); code.make();
  const n = code.getModuleCount();
  return Array.from({length: n}, (_, r) => Array.from({length: n}, (_, c) => code.isDark(r, c)));
}"""


def shown_code(page: Page) -> tuple[str, str, list[str]]:
    box = page.locator("[data-qr]")
    image = box.locator("[data-qr-image]")
    expect(image.locator("svg")).to_be_visible()
    text, svg = image.get_attribute("data-qr-text"), image.inner_html()
    # Drawn the right way round, with 2 modules of quiet zone: a decoder reads
    # a transposed code too, so the drawing is compared module by module.
    matrix = page.evaluate(_MATRIX, text)
    n = len(matrix)
    assert matrix[n - 8][8]  # ISO/IEC 18004's always-dark module: isDark is (row, column)
    drawn = {(x + dx, y) for x, y, w in ((int(a), int(b), int(c)) for a, b, c in _RUN.findall(svg)) for dx in range(w)}
    assert drawn == {(c + 2, r + 2) for r in range(n) for c in range(n) if matrix[r][c]}
    assert f'viewBox="0 0 {n + 4} {n + 4}"' in svg
    return box.get_attribute("data-sid"), text, decode(svg)


def test_the_login_pages_code_reads_back_as_its_session_address_and_a_fresh_one_after_refresh(page: Page, chain: ChainUrls, shot) -> None:
    page.goto(f"{chain.idp}/login?tab=legal&method=wechat")
    # One image with its name for a screen reader; the drawing inside is hidden from it.
    expect(page.get_by_role("img", name="电子营业执照扫码二维码")).to_be_visible()
    sid, text, read = shown_code(page)
    assert read == [text] and text.endswith(f"/m/licence?s={sid}")
    shot(page, "01_login_qr_drawn_by_the_browser")
    page.get_by_role("button", name="刷新二维码").click()
    expect(page.locator("[data-qr]")).not_to_have_attribute("data-sid", sid)
    fresh_sid, fresh_text, fresh_read = shown_code(page)
    assert fresh_read == [fresh_text] and fresh_text.endswith(f"/m/licence?s={fresh_sid}") and fresh_sid != sid


def test_the_registration_pages_mini_program_code_reads_back(page: Page, chain: ChainUrls) -> None:
    page.goto(f"{chain.idp}/register/legal")
    sid, text, read = shown_code(page)
    assert read == [text] and text.endswith(f"/m/face?s={sid}")
