"""A publication frozen as JSON: what the store keeps, so sites and feeds never reread files."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from broadcaster.text.notice import Notice
from broadcaster.text.render import Content, Publication
from broadcaster.workspace.alerts import Alert
from broadcaster.workspace.models import Campaign, LocalizedDoc, Priority, Workspace

SNAPSHOT_VERSION = 1


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def to_snapshot(publication: Publication) -> str:
    """The campaign revision and its rendered text per locale, as canonical JSON."""
    campaign = publication.campaign
    document = {
        "version": SNAPSHOT_VERSION,
        "published_at": publication.published_at.isoformat(),
        "campaign": {
            "id": campaign.id,
            "revision": campaign.revision,
            "topics": list(campaign.topics),
            "priority": str(campaign.priority),
            "valid_from": campaign.valid_from.isoformat(),
            "expires": campaign.expires.isoformat() if campaign.expires else None,
            "issuer": dict(campaign.issuer),
            "reference": campaign.reference,
            "data": campaign.data,
            "attachments": list(campaign.attachments),
            "docs": {loc: asdict(doc) for loc, doc in campaign.docs.items()},
        },
        "contents": {loc: asdict(content) for loc, content in publication.contents.items()},
    }
    # Written only when there is something, so earlier snapshots keep their bytes.
    if campaign.alert is not None:
        document["campaign"]["alert"] = campaign.alert.to_json()  # type: ignore[index]
    if publication.notice is not None:
        document["notice"] = publication.notice.to_json()
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=_default)


def from_snapshot(text: str, workspace: Workspace, base_url: str) -> Publication:
    """Rebuild a publication from `to_snapshot` output (topics' names come from `workspace`)."""
    document: dict[str, Any] = json.loads(text)
    raw = document["campaign"]
    expires = raw["expires"]
    campaign = Campaign(
        id=raw["id"],
        topics=tuple(raw["topics"]),
        priority=Priority(raw["priority"]),
        valid_from=datetime.fromisoformat(raw["valid_from"]),
        expires=datetime.fromisoformat(expires) if expires else None,
        issuer=raw["issuer"],
        reference=raw["reference"],
        data=raw["data"],
        docs={loc: LocalizedDoc(**doc) for loc, doc in raw["docs"].items()},
        attachments=tuple(raw["attachments"]),
        revision=raw["revision"],
        alert=Alert.from_json(raw.get("alert")),
    )
    contents = {loc: Content(**content) for loc, content in document["contents"].items()}
    published_at = datetime.fromisoformat(document["published_at"])
    notice = Notice.from_json(document.get("notice"))
    return Publication(workspace, campaign, base_url.rstrip("/"), published_at, contents, notice)


def with_notice(text: str, notice: Notice) -> str:
    """A snapshot (`to_snapshot` output) carrying `notice` instead of its own."""
    document: dict[str, Any] = json.loads(text)
    document["notice"] = notice.to_json()
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=_default)
