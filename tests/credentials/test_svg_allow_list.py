"""SVG badges pass an allow-list of elements and attributes: no style sheets, no animation,
no links but to the image's own #fragments, no event handlers, no CSS url() or escapes. The
same bytes go to Canvas Credentials, where no Content-Security-Policy protects anyone."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.credentials.conftest import upload

XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


def svg(inner: str, attributes: str = "") -> bytes:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" {attributes} viewBox="0 0 100 100" '
            f'width="400" height="400">{inner}</svg>').encode()


TRICKS = {
    "set_href_to_javascript": svg(
        '<a href="#x"><set attributeName="href" to="javascript:alert(1)"/>'
        '<rect width="9" height="9"/></a>'),
    "set_alone": svg('<rect width="9" height="9"><set attributeName="fill" to="red"/></rect>'),
    "animate_values": svg('<a href="#x"><animate attributeName="href" '
                          'values="javascript:alert(1)"/><text>go</text></a>'),
    "animate_transform": svg('<rect width="9" height="9"><animateTransform '
                             'attributeName="transform" type="rotate" to="90"/></rect>'),
    "css_escaped_url": svg('<rect width="9" height="9" '
                           'style="fill: u\\72l(https://evil.example/x)"/>'),
    "css_escaped_import": svg('<style>@\\69mport "https://evil.example/a.css";</style>'),
    "style_element": svg("<style>rect { fill: red }</style><rect width='9' height='9'/>"),
    "external_url_in_attribute": svg('<rect width="9" height="9" '
                                     'fill="url(https://evil.example/#g)"/>'),
    "anchor_to_javascript": svg('<a href="javascript:alert(1)"><text>hi</text></a>'),
    "use_external": svg('<use href="https://evil.example/sprite.svg#icon"/>'),
    "xlink_use_external": svg('<use xlink:href="https://evil.example/s.svg#i"/>', XLINK),
    "image_data_svg": svg('<image href="data:image/svg+xml;base64,PHN2Zy8+" width="9" '
                          'height="9"/>'),
    "fe_image": svg('<filter id="f"><feImage href="https://evil.example/x.png"/></filter>'),
    "xhtml_namespace": svg('<h:script xmlns:h="http://www.w3.org/1999/xhtml">'
                           'alert(1)</h:script>'),
    "unknown_attribute": svg('<rect width="9" height="9" formaction="https://evil.example"/>'),
    "event_handler_mixed_case": svg('<rect width="9" height="9" OnClick="alert(1)"/>'),
    "stylesheet_instruction": (b'<?xml version="1.0"?>\n<?xml-stylesheet '
                               b'href="https://evil.example/a.css"?>\n' + svg("")),
    "foreign_object": svg("<foreignObject><div>hi</div></foreignObject>"),
}


@pytest.mark.parametrize("image", TRICKS.values(), ids=TRICKS.keys())
def test_svg_tricks_are_refused_and_nothing_is_stored(
    client: TestClient, world: World, image: bytes
) -> None:
    proposal = world.proposal()
    answer = upload(client, proposal.id or 0, world.owner, image=image, filename="badge.svg")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == "image"
    assert client.get(f"/api/proposals/{proposal.id}/badge-design",
                      headers=world.owner.headers).status_code == 404


DRAWN = svg(
    '<title>Data storytelling</title><desc>A hexagon with a chart</desc>'
    '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
    '<stop offset="0" stop-color="#0c234b"/><stop offset="1" stop-color="#1e5288"/>'
    '</linearGradient><filter id="shadow"><feGaussianBlur in="SourceAlpha" stdDeviation="2"/>'
    '<feOffset dx="1" dy="2" result="moved"/><feMerge><feMergeNode in="moved"/>'
    '<feMergeNode in="SourceGraphic"/></feMerge></filter>'
    '<clipPath id="c"><circle cx="50" cy="50" r="45"/></clipPath>'
    '<symbol id="bar" viewBox="0 0 10 10"><rect width="10" height="10"/></symbol></defs>'
    '<g clip-path="url(#c)" filter="url(#shadow)" transform="translate(0 0)">'
    '<polygon points="50,3 91,26 91,74 50,97 9,74 9,26" fill="url(#sky)"/>'
    '<path d="M30 52 l13 13 l27 -29" fill="none" stroke="#ab0520" stroke-width="9" '
    'stroke-linecap="round" style="stroke-linejoin: round; opacity: 0.9"/>'
    '<use href="#bar" x="20" y="60" width="8" height="20"/>'
    '<use xlink:href="#bar" x="32" y="50" width="8" height="30"/>'
    '<text x="50" y="90" font-family="\'Proxima Nova\', Arial, sans-serif" font-size="8" '
    'text-anchor="middle" fill="#fff">DATA</text></g>', XLINK)


def test_a_drawn_badge_with_gradients_filters_and_local_references_is_accepted(
    client: TestClient, world: World
) -> None:
    proposal = world.proposal()
    answer = upload(client, proposal.id or 0, world.owner, image=DRAWN, filename="badge.svg")
    assert answer.status_code == 200, answer.text
    assert answer.json()["content_type"] == "image/svg+xml"
