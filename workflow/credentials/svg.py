"""SVG badge images, judged by an allow-list of elements and attributes.

The same bytes are served from here (under a sandboxing CSP) and sent to Canvas Credentials,
where no CSP applies, so only static drawing is let through: no scripts, no style sheets, no
animation (which can rewrite an `href` to `javascript:`), no links but to the image's own
`#fragment`s, no event handlers, no CSS `url()` but `url(#fragment)`, no CSS escapes. A deny-list
cannot keep up with what browsers accept; an allow-list refuses what it does not know.
Parsing is defusedxml's (no DTDs, no entity expansion).
"""

import re

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
XLINK_NAMESPACE = "http://www.w3.org/1999/xlink"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"

# Static drawing: shapes, text, grouping, reuse, paint servers, clipping, masking, filters
# (without feImage, which loads a resource).
ELEMENTS = frozenset({
    "svg", "g", "defs", "title", "desc", "symbol", "use", "switch",
    "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "text", "tspan", "textPath",
    "linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
    "filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite",
    "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight",
    "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur",
    "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
    "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
})

GEOMETRY = {
    "id", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr",
    "width", "height", "d", "points", "pathLength", "transform", "viewBox",
    "preserveAspectRatio", "version", "baseProfile", "class", "lang", "tabindex", "role",
    "aria-label", "aria-hidden", "focusable",
}
TEXT = {
    "dx", "dy", "rotate", "lengthAdjust", "textLength", "startOffset", "method", "spacing",
    "side",
}
PAINT_SERVERS = {
    "offset", "gradientUnits", "gradientTransform", "spreadMethod", "patternUnits",
    "patternContentUnits", "patternTransform", "clipPathUnits", "maskUnits",
    "maskContentUnits", "markerUnits", "markerWidth", "markerHeight", "refX", "refY",
    "orient",
}
FILTER_PRIMITIVES = {
    "filterUnits", "primitiveUnits", "in", "in2", "result", "mode", "operator", "k1", "k2",
    "k3", "k4", "stdDeviation", "edgeMode", "type", "values", "tableValues", "slope",
    "intercept", "amplitude", "exponent", "order", "kernelMatrix", "divisor", "bias",
    "targetX", "targetY", "preserveAlpha", "surfaceScale", "diffuseConstant",
    "specularConstant", "specularExponent", "kernelUnitLength", "azimuth", "elevation", "z",
    "pointsAtX", "pointsAtY", "pointsAtZ", "limitingConeAngle", "scale", "xChannelSelector",
    "yChannelSelector", "radius", "baseFrequency", "numOctaves", "seed", "stitchTiles",
}
# Presentation attributes (CSS properties that may also be written as attributes or in a
# `style` attribute).
PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset",
    "stroke-opacity", "opacity", "color", "display", "visibility", "overflow",
    "clip-path", "clip-rule", "mask", "filter", "marker-start", "marker-mid", "marker-end",
    "stop-color", "stop-opacity", "flood-color", "flood-opacity", "lighting-color",
    "color-interpolation", "color-interpolation-filters", "paint-order", "vector-effect",
    "shape-rendering", "text-rendering", "image-rendering", "mix-blend-mode", "isolation",
    "font-family", "font-size", "font-weight", "font-style", "font-variant", "font-stretch",
    "text-anchor", "dominant-baseline", "alignment-baseline", "baseline-shift",
    "letter-spacing", "word-spacing", "text-decoration", "writing-mode", "direction",
    "unicode-bidi",
}
ATTRIBUTES = frozenset(GEOMETRY | TEXT | PAINT_SERVERS | FILTER_PRIMITIVES | PRESENTATION)
# Elements whose `href` may point at a #fragment of this same image.
LINKING = frozenset({"use", "textPath", "linearGradient", "radialGradient", "pattern",
                     "filter"})

LOCAL_FRAGMENT = re.compile(r"#[A-Za-z_][\w.:-]*")
# `url(#id)`, the only url() allowed (gradients, clip paths, masks, filters, markers).
LOCAL_URL = re.compile(r"url\(\s*(['\"]?)#[A-Za-z_][\w.:-]*\1\s*\)", re.I)
# An instruction other than the XML declaration (`<?xml-stylesheet ...?>` loads CSS).
INSTRUCTION = re.compile(rb"<\?(?!xml[\s?])", re.I)
STYLE_DECLARATION = re.compile(r"^\s*([A-Za-z-]+)\s*:(.*)$", re.S)


class SVGRefused(ValueError):
    """The SVG is not an acceptable badge image; the message says why."""


def check_svg(data: bytes) -> None:
    """Refuse an SVG that does anything but draw itself."""
    if INSTRUCTION.search(data):
        raise SVGRefused("the SVG file contains a processing instruction (such as a style "
                         "sheet link), which is not allowed")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise SVGRefused("the SVG file declares a DTD or entities, which are not allowed"
                         ) from error
    except ElementTree.ParseError as error:
        raise SVGRefused(f"the SVG file is not well-formed XML ({error})") from error
    namespace, name = split(root.tag)
    if name.lower() != "svg":
        raise SVGRefused("the file is XML but not an SVG image")
    if namespace != SVG_NAMESPACE:
        raise SVGRefused(f'the SVG file does not declare xmlns="{SVG_NAMESPACE}"')
    for element in root.iter():
        namespace, name = split(element.tag)
        if namespace != SVG_NAMESPACE or name not in ELEMENTS:
            raise SVGRefused(f"the SVG file contains a <{name.lower()}> element, which is not "
                             f"allowed (save it as a plain SVG: shapes, text, gradients)")
        for attribute, value in element.attrib.items():
            check_attribute(name, attribute, value)


def split(tag: str) -> tuple[str, str]:
    """`{namespace}name` as (namespace, name); no namespace is ""."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def check_attribute(element: str, attribute: str, value: str) -> None:
    namespace, name = split(attribute)
    if name.lower().startswith("on"):
        raise SVGRefused(f"the SVG file has an event attribute ({name.lower()}), which is "
                         f"not allowed")
    if name == "href" and namespace in ("", XLINK_NAMESPACE):
        if element not in LINKING or not LOCAL_FRAGMENT.fullmatch(value.strip()):
            raise SVGRefused("the SVG file refers to an external resource (only links to "
                             "#parts of the same image are allowed)")
        return
    if namespace == XML_NAMESPACE and name in ("space", "lang"):
        return
    if namespace or (name not in ATTRIBUTES and name != "style"):
        raise SVGRefused(f"the SVG file has an attribute {name!r} on <{element}>, which is "
                         f"not allowed")
    if name == "style":
        check_style(value)
    else:
        check_value(name, value)


def check_style(style: str) -> None:
    """A `style` attribute: presentation properties only, each with a plain value."""
    for declaration in style.split(";"):
        if not declaration.strip():
            continue
        found = STYLE_DECLARATION.match(declaration)
        if found is None or found.group(1).lower() not in PRESENTATION:
            raise SVGRefused(f"the SVG file has a style the image may not use "
                             f"({declaration.strip()[:60]!r})")
        check_value(found.group(1), found.group(2))


def check_value(name: str, value: str) -> None:
    # A backslash starts a CSS escape (`u\72l(` is `url(`), hiding anything from a check.
    if "\\" in value or "@" in value or "<" in value:
        raise SVGRefused(f"the SVG file has a value the image may not use in {name!r}")
    if re.search(r"url\s*\(", LOCAL_URL.sub("", value), re.I):
        raise SVGRefused("the SVG file refers to an external resource in a style, which is "
                         "not allowed")
    lowered = value.lower()
    if "javascript:" in lowered or "expression(" in lowered or "data:" in lowered:
        raise SVGRefused(f"the SVG file has a value the image may not use in {name!r}")
