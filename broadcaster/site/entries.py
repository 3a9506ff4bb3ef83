"""A campaign as one feed entry: the RSS item / Atom entry and the JSON Feed item.

Whole feeds (site/feeds.py) and the feed channel's preview of one entry use the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from broadcaster.text import strings
from broadcaster.text.render import Publication

if TYPE_CHECKING:
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


def add_entry(
    fg: FeedGenerator, publication: Publication, locale: str, withdrawn_at: datetime | None = None
) -> None:
    """Add the campaign as one entry of `fg`; its id never changes across revisions (nor
    when it is withdrawn: then it is marked so, updated at `withdrawn_at`)."""
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


def json_item(
    publication: Publication, locale: str, withdrawn_at: datetime | None = None
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
    return item
