"""Reading HTML as a browser would, typed: shared by the page and rendition tests."""

from __future__ import annotations

import lxml.html
from lxml.html import HtmlElement


def parse_html(data: str | bytes) -> HtmlElement:
    """A whole HTML document parsed as a browser would (bytes: charset from <meta>)."""
    document = lxml.html.document_fromstring(data)
    assert isinstance(document, HtmlElement)
    return document


def find_all(node: HtmlElement, path: str) -> list[HtmlElement]:
    """The elements `path` selects (typed, unlike xpath())."""
    found = node.xpath(path)
    assert isinstance(found, list)
    elements = [item for item in found if isinstance(item, HtmlElement)]
    assert len(elements) == len(found), path
    return elements
