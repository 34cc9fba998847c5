"""Badge images: checked by their content, never trusted by their name."""

import re
import struct
import zlib
from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 400
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
FORBIDDEN_ELEMENTS = frozenset({"script", "foreignobject", "iframe", "embed", "object", "audio",
                                "video", "handler", "listener"})
EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#|data:image/)", re.I)


class ImageRefused(ValueError):
    """The upload is not an acceptable badge image; the message says why."""


@dataclass(frozen=True)
class BadgeImage:
    content_type: str
    width: int | None
    height: int | None


def inspect_image(data: bytes) -> BadgeImage:
    """Say what the image is, or refuse it."""
    if not data:
        raise ImageRefused("the image is empty")
    if data.startswith(PNG_SIGNATURE):
        return _inspect_png(data)
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!--"):
        return _inspect_svg(data)
    raise ImageRefused("the image must be a PNG or an SVG file")


def _inspect_png(data: bytes) -> BadgeImage:
    position = len(PNG_SIGNATURE)
    width = height = None
    seen_iend = False
    while position < len(data):
        if position + 8 > len(data):
            raise ImageRefused("the PNG file is truncated")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 8 + length + 4
        if end > len(data):
            raise ImageRefused("the PNG file is truncated")
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(kind + body) != crc:
            raise ImageRefused("the PNG file is damaged (a chunk fails its checksum)")
        if position == len(PNG_SIGNATURE):
            if kind != b"IHDR" or length < 8:
                raise ImageRefused("the PNG file has no header")
            width, height = struct.unpack(">II", body[:8])
        if kind == b"IEND":
            seen_iend = True
            break
        position = end
    if not seen_iend:
        raise ImageRefused("the PNG file is truncated")
    assert width is not None and height is not None
    if width != height:
        raise ImageRefused(f"the badge image must be square; this one is {width}x{height}")
    if width < MIN_SIDE:
        raise ImageRefused(f"the badge image must be at least {MIN_SIDE}x{MIN_SIDE} pixels; "
                           f"this one is {width}x{height}")
    return BadgeImage("image/png", width, height)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _inspect_svg(data: bytes) -> BadgeImage:
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ImageRefused("the SVG file declares a DTD or entities, which are not allowed"
                           ) from error
    except ElementTree.ParseError as error:
        raise ImageRefused(f"the SVG file is not well-formed XML ({error})") from error
    if _local(root.tag) != "svg":
        raise ImageRefused("the file is XML but not an SVG image")
    for element in root.iter():
        name = _local(element.tag)
        if name in FORBIDDEN_ELEMENTS:
            raise ImageRefused(f"the SVG file contains a <{name}> element, which is not allowed")
        for attribute, value in element.attrib.items():
            attr = _local(attribute)
            if attr.startswith("on"):
                raise ImageRefused(f"the SVG file has an event attribute ({attr}), "
                                   f"which is not allowed")
            if attr == "href" and not (value.startswith("#") or value.startswith("data:image/")):
                raise ImageRefused("the SVG file refers to an external resource, "
                                   "which is not allowed")
            if EXTERNAL_URL.search(value):
                raise ImageRefused("the SVG file refers to an external resource in a style, "
                                   "which is not allowed")
        if name == "style" and (element.text or "") and (
            "@import" in (element.text or "") or EXTERNAL_URL.search(element.text or "")
        ):
            raise ImageRefused("the SVG file imports an external style, which is not allowed")
    return BadgeImage("image/svg+xml", None, None)
