"""A campaign's public alert history: which CAP messages its publications make.

Each publication of an alert campaign (urgent, or with `alert:`) that carries a new
revision is a message: the first an `Alert`, later ones (corrections) an `Update`; a
withdrawal is a `Cancel`. Each refers to every earlier message of the campaign since its
last Cancel (`references`), so a reader replaces what it showed. Publications repeating
a revision already alerted (a reminder) make no message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from broadcaster.text.render import Publication
from broadcaster.workspace.alerts import AlertArea


@dataclass(frozen=True)
class Published:
    """One stored publication or withdrawal of a campaign, as the history reads it."""

    id: int
    withdrawal: bool
    created_at: datetime
    publication: Publication


@dataclass(frozen=True)
class AlertMessage:
    """One CAP message: what it says (`publication`), its kind and whom it replaces."""

    identifier: str
    sender: str
    msg_type: str  # Alert | Update | Cancel
    sent: datetime
    publication: Publication
    references: tuple[AlertMessage, ...] = ()

    @property
    def reference(self) -> str:
        """`sender,identifier,sent`, as a later message names this one."""
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


def cap_time(moment: datetime) -> str:
    """CAP's date-time: seconds and a numeric offset (`2021-07-10T08:00:00+07:00`), no Z."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def alert_sender(area: AlertArea | None, host: str) -> str:
    """workspace.yaml `alerts: sender:`, else the host of BROADCASTER_BASE_URL."""
    return area.sender if area is not None and area.sender else host


def identifier(host: str, campaign_id: str, publication_id: int) -> str:
    """Unique per sender, and safe in a URL and in CAP (no spaces, commas, `<` or `&`)."""
    return f"{host}.{campaign_id}.{publication_id}"


def messages(
    history: Iterable[Published], sender: str, host: str, zone: tzinfo
) -> list[AlertMessage]:
    """Every message one campaign's history makes, oldest first (`history` oldest first)."""
    made: list[AlertMessage] = []
    chain: list[AlertMessage] = []  # messages since the last Cancel
    alerted: str | None = None  # the revision of the last Alert or Update in `chain`
    for item in history:
        publication = item.publication
        if publication.campaign.alert is None:
            continue
        revision = publication.campaign.revision
        if item.withdrawal:
            if not chain:
                continue
            kind, sent = "Cancel", item.created_at
        elif revision == alerted:
            continue
        else:
            kind, sent = ("Update" if chain else "Alert"), publication.published_at
        message = AlertMessage(
            identifier(host, publication.campaign.id, item.id),
            sender,
            kind,
            sent.astimezone(zone),
            publication,
            tuple(chain),
        )
        made.append(message)
        if kind == "Cancel":
            chain, alerted = [], None
        else:
            chain.append(message)
            alerted = revision
    return made


def current(
    messages_by_campaign: Sequence[list[AlertMessage]], now: datetime
) -> list[AlertMessage]:
    """The newest message of each campaign that has not expired, newest first: what an
    index of current alerts lists (a Cancel stays listed so readers take the alert down)."""
    newest = []
    for made in messages_by_campaign:
        if not made:
            continue
        last = made[-1]
        expires = last.publication.campaign.expires
        if expires is None or expires > now:
            newest.append(last)
    return sorted(newest, key=lambda m: (m.sent, m.identifier), reverse=True)
