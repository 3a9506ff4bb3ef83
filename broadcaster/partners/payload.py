"""The event partners receive: a Standard Webhooks envelope around one campaign revision.

Schema version 1 is documented in docs/partners.md and docs/webhook-event.schema.json.
The `data` object is rendered once per (publication, locale) and stored; the envelope's
`type` is chosen per delivery (created, updated, withdrawn), and the bytes are built the
same way every time, so a retry or a replay signs exactly the same body.
"""

from __future__ import annotations

import json
from typing import Any

from broadcaster.bulletins.names import bulletin_links
from broadcaster.partners.tables import EventType
from broadcaster.text.radio_script import RadioScript
from broadcaster.text.render import Publication
from broadcaster.workspace.attachments import campaign_files

SCHEMA_VERSION = 1


def attachments(publication: Publication) -> list[dict[str, Any]]:
    """The campaign's `files/`: name, URL on the website, media type, size and SHA-256."""
    return [
        {
            "name": file.name,
            "url": file.url(publication),
            "media_type": file.media_type,
            "size": len(file.data),
            "sha256": file.sha256,
        }
        for file in campaign_files(publication)
    ]


def event_data(publication: Publication, locale: str, script: RadioScript) -> dict[str, Any]:
    """The `data` object of an event about `publication` in `locale` (schema version 1)."""
    content = publication.content(locale)
    campaign = publication.campaign
    base = publication.base_url
    feed_locale = content.locale
    return {
        "schema_version": SCHEMA_VERSION,
        "id": publication.entry_id(locale),
        "campaign": campaign.id,
        "revision": campaign.revision,
        "locale": content.locale,
        "requested_locale": locale,
        "priority": str(campaign.priority),
        "topics": list(campaign.topics),
        "issuer": campaign.issuer_name(locale),
        "reference": campaign.reference,
        "valid_from": campaign.valid_from.isoformat(),
        "expires": campaign.expires.isoformat() if campaign.expires else None,
        "published_at": publication.published_at.isoformat(),
        "title": content.title,
        "summary": content.summary,
        "body_html": content.html,
        "body_text": content.text,
        "radio": {
            "script": script.text,
            "locale": script.locale,
            "reading_seconds": script.seconds,
            "reading_time": script.duration,
            "audio": bulletin_links(publication, locale),
        },
        "url": publication.url(locale),
        "alternates": dict(publication.alternates()),
        "feeds": {fmt: f"{base}/feeds/{feed_locale}/all.{fmt}" for fmt in ("rss", "atom", "json")},
        "attachments": attachments(publication),
    }


def event(event_type: EventType, timestamp: str, data: dict[str, Any]) -> dict[str, Any]:
    """The whole event: the Standard Webhooks envelope."""
    return {"type": event_type.value, "timestamp": timestamp, "data": data}


def encode(document: dict[str, Any]) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the same document always gives the same bytes."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.encode()


def with_type(stored: bytes, event_type: EventType) -> bytes:
    """A stored event (as rendered, type `publication.created`) with `event_type` instead."""
    if event_type is EventType.CREATED:
        return stored
    document = json.loads(stored)
    document["type"] = event_type.value
    return encode(document)


def withdrawal(stored: bytes, at: str) -> bytes:
    """A stored event turned into `publication.withdrawn` at `at` (its `data`, the last
    revision the partner was sent, stays as it was)."""
    document = json.loads(stored)
    document["type"] = EventType.WITHDRAWN.value
    document["timestamp"] = at
    return encode(document)
