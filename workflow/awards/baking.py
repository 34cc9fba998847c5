"""Badge images that carry the award inside them (Open Badges 3.0 baking): an `iTXt` chunk
named `openbadgecredential` in a PNG, an `<openbadges:credential>` element in an SVG."""

import io

import png
from defusedxml.minidom import parseString

OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
PNG_KEYWORD = b"openbadgecredential"


def bake_png(image: bytes, credential: str) -> bytes:
    """The PNG with the credential's text in an uncompressed iTXt chunk before IEND."""
    chunks = list(png.Reader(bytes=image).chunks())
    # keyword, NUL, compression flag and method (none), empty language tag and translated
    # keyword, then the text itself.
    text = PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + credential.encode("utf-8")
    chunks.insert(len(chunks) - 1, (b"iTXt", text))
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()


def bake_svg(image: bytes, credential: str) -> bytes:
    """The SVG with the credential as the text of an `<openbadges:credential>` element, the
    first child of its root."""
    document = parseString(image)
    root = document.documentElement
    root.setAttribute("xmlns:openbadges", OB3_NAMESPACE)
    element = document.createElementNS(OB3_NAMESPACE, "openbadges:credential")
    element.appendChild(document.createCDATASection(credential))
    root.insertBefore(element, root.firstChild)
    baked: bytes = document.toxml(encoding="utf-8")
    return baked


def bake(image: bytes, content_type: str, credential: str) -> bytes:
    return bake_png(image, credential) if content_type == "image/png" else bake_svg(
        image, credential)
