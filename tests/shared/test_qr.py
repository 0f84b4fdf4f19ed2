from shared.qr import qr_svg


def test_qr_svg_is_an_accessible_inline_svg() -> None:
    svg = qr_svg("http://127.0.0.1:8001/m/face?s=abc", title='小程序码 "x"')
    assert svg.startswith("<svg ") and 'role="img"' in svg and 'aria-label="小程序码 &quot;x&quot;"' in svg
    assert "<path" in svg and "<?xml" not in svg
