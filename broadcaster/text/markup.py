"""Markdown to safe HTML: markdown-it-py (CommonMark + tables), sanitised with nh3."""

from __future__ import annotations

import unicodedata

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

# Raw HTML in a campaign body is not passed through: Markdown is the authoring format.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    "table"
)

_ALLOWED_TAGS = {
    "a", "abbr", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"style"}, "th": {"style"}}


def nfc(text: str) -> str:
    """Unicode NFC normalisation, applied to every text we read or write."""
    return unicodedata.normalize("NFC", text)


def parse(source: str) -> list[Token]:
    """The markdown-it token stream for `source` (shared by HTML and plain-text output)."""
    return _md.parse(nfc(source))


def to_html(source: str) -> str:
    """Render Markdown to sanitised HTML."""
    html = _md.renderer.render(parse(source), _md.options, {})
    return sanitize(html)


def sanitize(html: str) -> str:
    """Keep only the tags and attributes a campaign body may use."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
    )
