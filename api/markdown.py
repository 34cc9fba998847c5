"""Markdown written by people (a credential's criteria) turned into HTML that is safe to show."""

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Raw HTML is shown as text, never passed through; markdown-it refuses javascript:, vbscript:
    # and data: links itself. Images are off: the page loads nothing from another site.
    parser = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    parser.disable("image")
    return parser


def to_html(text: str, top_heading: int = 3) -> Markup:
    """Render Markdown; its headings start at `top_heading` so they sit under the page's own."""
    parser = _parser()
    tokens = parser.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + top_heading - 1, 6)}"
    return Markup(parser.renderer.render(tokens, parser.options, {}))
