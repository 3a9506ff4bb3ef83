"""The Atom index of current alerts (`/cap/index.atom`), as alert aggregators read it:
one entry per alert, linking its CAP document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree

from broadcaster.alerts.cap import CAP_MEDIA_TYPE
from broadcaster.alerts.messages import AlertMessage
from broadcaster.workspace.models import DEFAULT_LOCALE

ATOM_NS = "http://www.w3.org/2005/Atom"


def _add(parent: etree._Element, name: str, value: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}", attributes)
    if value:
        element.text = value
    return element


def alert_url(base_url: str, message: AlertMessage) -> str:
    return f"{base_url}/cap/{message.identifier}.xml"


def atom_index(
    current: Sequence[AlertMessage], base_url: str, title: str, updated: datetime
) -> bytes:
    """The feed: newest first; `updated` when nothing is listed."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    self_url = f"{base_url}/cap/index.atom"
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    newest = max((m.sent for m in current), default=updated)
    _add(feed, "updated", newest.isoformat())
    _add(feed, "link", "", rel="self", href=self_url, type="application/atom+xml")
    author = _add(feed, "author", "")
    _add(author, "name", title)
    for message in current:
        publication = message.publication
        content = publication.content(DEFAULT_LOCALE)
        entry = _add(feed, "entry", "")
        _add(entry, "id", alert_url(base_url, message))
        _add(entry, "title", f"{message.msg_type}: {content.title}")
        _add(entry, "updated", message.sent.isoformat())
        author = _add(entry, "author", "")
        _add(author, "name", publication.campaign.issuer_name(DEFAULT_LOCALE))
        _add(entry, "summary", content.summary)
        url = alert_url(base_url, message)
        _add(entry, "link", "", rel="alternate", href=url, type=CAP_MEDIA_TYPE)
        page = publication.url(DEFAULT_LOCALE)
        _add(entry, "link", "", rel="related", href=page, type="text/html")
    data: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8")
    return data
