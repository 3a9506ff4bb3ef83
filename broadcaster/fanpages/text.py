"""A campaign as a fan-page post: title, summary, key steps, support contacts, link, hashtags.

Plain text only (fan pages show Markdown as typed): the key steps are the body's first
numbered list, the contacts come from `data.contacts`, the hashtags from the topics'
names (or the channel's own `tags:`). A post longer than the platform allows loses steps
and contacts first; the title, the summary, the link and the hashtags always stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from markdown_it.tree import SyntaxTreeNode

from broadcaster.site.model import contacts_from
from broadcaster.text.markup import nfc, parse
from broadcaster.text.plaintext import markdown_to_text
from broadcaster.text.render import Publication
from broadcaster.text.strings import text
from broadcaster.workspace.attachments import campaign_files
from broadcaster.workspace.models import Priority

# Graph API: a page post's message holds at most 63,206 characters.
FACEBOOK_LIMIT = 63206
ELLIPSIS = "…"
_NOT_IN_TAG = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class PostParts:
    """What a post says, in one locale, before it is laid out for a platform."""

    locale: str
    title: str
    summary: str
    steps: tuple[str, ...]
    contacts: tuple[str, ...]
    link: str
    hashtags: tuple[str, ...]
    image_url: str | None


def post_parts(
    publication: Publication, locale: str, *, hashtags: bool, tags: Mapping[str, str]
) -> PostParts:
    """The parts of the campaign's post in `locale` (its default-locale text if it lacks it)."""
    content = publication.content(locale)
    lang = content.locale
    title = content.title
    if publication.campaign.priority == Priority.URGENT:
        title = f"{text('urgent_subject', lang)} {title}"
    images = [f for f in campaign_files(publication) if f.media_type.startswith("image/")]
    return PostParts(
        locale=lang,
        title=title,
        summary=content.summary,
        steps=tuple(key_steps(content.markdown)),
        contacts=tuple(contact_lines(publication, lang)),
        link=publication.url(lang),
        hashtags=tuple(topic_tags(publication, lang, tags)) if hashtags else (),
        image_url=images[0].url(publication) if images else None,
    )


def key_steps(markdown: str) -> list[str]:
    """The items of the body's first numbered list, as plain text."""
    for node in SyntaxTreeNode(parse(markdown)).walk():
        if node.type == "ordered_list":
            items = []
            for item in node.children:
                source = "".join(child.content for child in item.walk() if child.type == "inline")
                plain = markdown_to_text(source, width=None).strip()
                if plain:
                    items.append(" ".join(plain.split()))
            return items
    return []


def contact_lines(publication: Publication, locale: str) -> list[str]:
    """One line per support contact: name, unit, phone, email."""
    lines = []
    for contact in contacts_from(publication.campaign.data, "contacts", locale):
        who = contact.name + (f" ({contact.unit})" if contact.unit else "")
        how = ", ".join(v for v in (contact.phone, contact.email) if v)
        lines.append(f"{who}: {how}" if how else who)
    return lines


def topic_tags(publication: Publication, locale: str, tags: Mapping[str, str]) -> list[str]:
    """A hashtag per topic: the channel's `tags:` entry, else the topic's name run together."""
    names = dict(zip(publication.campaign.topics, publication.topic_names(locale), strict=True))
    found: list[str] = []
    for topic, name in names.items():
        given = tags.get(topic)
        word = given if given is not None else "".join(w[:1].upper() + w[1:] for w in name.split())
        tag = _NOT_IN_TAG.sub("", nfc(word).lstrip("#"))
        if tag and f"#{tag}" not in found:
            found.append(f"#{tag}")
    return found


def post_text(parts: PostParts, limit: int = FACEBOOK_LIMIT) -> str:
    """The whole post as plain text, at most `limit` characters."""
    lang = parts.locale
    head = "\n\n".join(v for v in (parts.title, parts.summary) if v)
    middle: list[str] = []
    if parts.steps:
        steps = [f"{n}. {step}" for n, step in enumerate(parts.steps, 1)]
        middle.append(f"{text('fanpage_steps', lang)}:\n" + "\n".join(steps))
    if parts.contacts:
        lines = [f"- {line}" for line in parts.contacts]
        middle.append(f"{text('fanpage_contacts', lang)}:\n" + "\n".join(lines))
    tail = f"{text('fanpage_details', lang)}: {parts.link}"
    if parts.hashtags:
        tail += "\n\n" + " ".join(parts.hashtags)
    return fit(head, "\n\n".join(middle), tail, limit)


def fit(head: str, middle: str, tail: str, limit: int) -> str:
    """`head`, `middle` and `tail` in paragraphs, `middle` (then `head`) cut to fit `limit`."""
    gap = "\n\n"
    whole = gap.join(v for v in (head, middle, tail) if v)
    if len(whole) <= limit:
        return whole
    room = limit - len(head) - len(tail) - 2 * len(gap) - len(ELLIPSIS)
    if room > 0 and middle:
        return gap.join((head, middle[:room].rstrip() + ELLIPSIS, tail))
    room = limit - len(tail) - len(gap) - len(ELLIPSIS)
    return gap.join((head[: max(room, 0)].rstrip() + ELLIPSIS, tail))[:limit]


def withdrawal_text(publication: Publication, locale: str) -> str:
    """What a post says once its campaign is withdrawn (where it cannot be deleted)."""
    content = publication.content(locale)
    lang = content.locale
    current = f"{text('fanpage_current', lang)}: {publication.base_url}/{lang}/"
    return f"{text('fanpage_withdrawn', lang)}\n\n{content.title}\n\n{current}"
