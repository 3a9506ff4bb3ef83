"""A campaign as one feed entry: the RSS item / Atom entry and the JSON Feed item.

Whole feeds (site/feeds.py) and the feed channel's preview of one entry use the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from broadcaster.text import strings
from broadcaster.text.render import Publication
from broadcaster.workspace.attachments import Attachment

if TYPE_CHECKING:
    from feedgen.entry import FeedEntry
    from feedgen.feed import FeedGenerator

# feedgen is imported only for its type here: a process that only sends mail (a fan-out
# worker) loads the feed channel but not feedgen.


@dataclass(frozen=True)
class EntryText:
    """What an entry says: the campaign's text, or the withdrawal note in its place."""

    title: str
    summary: str
    html: str
    text: str
    updated: datetime


def entry_text(publication: Publication, locale: str, withdrawn_at: datetime | None) -> EntryText:
    """The entry's title, summary and content; once withdrawn, the title is marked in the
    feed's language and the content is the withdrawal note with a link to the archived page."""
    content = publication.content(locale)
    if withdrawn_at is None:
        return EntryText(
            content.title, content.summary, content.html, content.text, publication.published_at
        )
    note = strings.text("site_withdrawn_notice", locale)
    url = publication.url(locale)
    link = strings.text("feed_withdrawn_link", locale)
    return EntryText(
        title=strings.text("feed_withdrawn_title", locale).format(title=content.title),
        summary=note,
        html=f'<p>{escape(note)}</p>\n<p><a href="{escape(url)}">{escape(link)}</a></p>\n',
        text=f"{note}\n\n{link}: {url}\n",
        updated=withdrawn_at,
    )


def _enclosure_order(attachments: Sequence[Attachment]) -> list[Attachment]:
    """The attachments in the order they are added: RSS carries one enclosure, feedgen's
    last, so the official document (the first PDF, else the first file) goes last."""
    if not attachments:
        return []
    chosen = next((a for a in attachments if a.media_type == "application/pdf"), attachments[0])
    return [a for a in attachments if a is not chosen] + [chosen]


def add_entry(
    fg: FeedGenerator,
    publication: Publication,
    locale: str,
    withdrawn_at: datetime | None = None,
    attachments: Sequence[Attachment] = (),
) -> FeedEntry:
    """Add the campaign as one entry of `fg` (returned); its id never changes across revisions (nor
    when it is withdrawn: then it is marked so, updated at `withdrawn_at`). Its
    `attachments` become Atom `rel="enclosure"` links and the RSS `<enclosure>` (the
    official document); a withdrawn entry carries none."""
    content = publication.content(locale)
    said = entry_text(publication, locale, withdrawn_at)
    campaign = publication.campaign
    entry = fg.add_entry(order="append")
    entry.id(publication.entry_id(locale))
    entry.guid(publication.entry_id(locale), permalink=False)
    entry.title(said.title)
    entry.link(href=publication.url(locale), rel="alternate", hreflang=content.locale)
    entry.summary(said.summary)
    # RSS readers take <description> as HTML, so the plain-text summary goes in escaped, as
    # content:encoded carries its (sanitised) HTML; Atom's <summary> stays type text. Set
    # before content(), which then replaces the Atom content this call also sets.
    entry.description(escape(said.summary, quote=False))
    entry.content(said.html, type="html")
    entry.published(campaign.valid_from)
    entry.updated(said.updated)
    entry.author({"name": campaign.issuer_name(locale)})
    for topic_id, name in zip(campaign.topics, publication.topic_names(locale), strict=True):
        entry.category(term=topic_id, label=name)
    if withdrawn_at is None:
        for file in _enclosure_order(attachments):
            entry.enclosure(file.url(publication), len(file.data), file.media_type)
    return entry


_LINK_ATTRIBUTES = ("href", "rel", "type", "hreflang", "title", "length")


def repair_atom_links(atom: str, entry: FeedEntry) -> str:
    """`atom` (feedgen's Atom text) with `entry`'s links as they should be written.

    feedgen 1.0 writes an Atom entry's links with their href only: an enclosure would read
    as an alternate link. Each `<link href="..."/>` of the entry gets its rel, type,
    hreflang and length back.
    """
    for link in entry.link():
        broken = f"<link href={quoteattr(link['href'])}/>"
        attributes = " ".join(
            f"{name}={quoteattr(str(link[name]))}" for name in _LINK_ATTRIBUTES if link.get(name)
        )
        atom = atom.replace(broken, f"<link {attributes}/>", 1)
    return atom


def json_item(
    publication: Publication,
    locale: str,
    withdrawn_at: datetime | None = None,
    attachments: Sequence[Attachment] = (),
) -> dict[str, Any]:
    """The campaign as a JSON Feed 1.1 item (marked withdrawn at `withdrawn_at`, if given)."""
    content = publication.content(locale)
    said = entry_text(publication, locale, withdrawn_at)
    campaign = publication.campaign
    item: dict[str, Any] = {
        "id": publication.entry_id(locale),
        "url": publication.url(locale),
        "title": said.title,
        "summary": said.summary,
        "content_html": said.html,
        "content_text": said.text,
        "date_published": campaign.valid_from.isoformat(),
        "date_modified": said.updated.isoformat(),
        "authors": [{"name": campaign.issuer_name(locale)}],
        "tags": list(campaign.topics),
        "language": content.locale,
        "_broadcaster": {
            "priority": str(campaign.priority),
            "reference": campaign.reference,
            "revision": campaign.revision,
            "expires": campaign.expires.isoformat() if campaign.expires else None,
        },
    }
    if withdrawn_at is not None:
        item["_broadcaster"]["withdrawn"] = withdrawn_at.isoformat()
    elif attachments:
        item["attachments"] = [
            {
                "url": file.url(publication),
                "mime_type": file.media_type,
                "title": file.name,
                "size_in_bytes": len(file.data),
            }
            for file in attachments
        ]
    return item
