"""Badge images are judged by their content; unsafe or unfit ones are refused with a reason."""

import struct
import zlib

import pytest

from workflow.credentials.badges import PNG_SIGNATURE, ImageRefused, inspect_image


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{}</svg>'


def svg(inner: str, attributes: str = "") -> bytes:
    return SVG.replace(b"<svg ", f"<svg {attributes} ".encode()).replace(b"{}", inner.encode())


def test_a_square_png_of_400_pixels_is_accepted() -> None:
    image = inspect_image(png(400, 400))
    assert (image.content_type, image.width, image.height) == ("image/png", 400, 400)


def test_a_plain_svg_with_internal_references_is_accepted() -> None:
    image = inspect_image(svg('<defs><linearGradient id="g"/></defs>'
                              '<circle r="4" fill="url(#g)"/>'))
    assert image.content_type == "image/svg+xml"


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (png(400, 300), "must be square"),
    (png(200, 200), "at least 400x400"),
    (png(400, 400)[:-6], "truncated"),
    (png(400, 400)[:40], "truncated"),
    (png(400, 400)[:20] + b"X" + png(400, 400)[21:], "checksum"),
    (b"GIF89a....", "PNG or an SVG"),
    (svg("<script>alert(1)</script>"), "<script>"),
    (svg("", 'onload="alert(1)"'), "event attribute (onload)"),
    (svg('<image href="https://evil.example/x.png"/>'), "<image> element"),
    (svg('<use href="https://evil.example/x.svg#a"/>'), "external resource"),
    (svg('<rect style="fill: url(https://evil.example/x)"/>'), "external resource"),
    (svg("<foreignObject><div>hi</div></foreignObject>"), "<foreignobject>"),
    (svg("<style>@import url(https://evil.example/a.css);</style>"), "<style> element"),
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg/>', "DTD"),
    (b"<svg><unclosed></svg>", "not well-formed"),
    (b'<?xml version="1.0"?><html/>', "not an SVG"),
])
def test_unfit_or_unsafe_images_are_refused_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        inspect_image(data)
