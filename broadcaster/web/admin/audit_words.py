"""Audit log entries as sentences in the page language, for people (the page and its CSV).

The log stores codes and details (`publication.created`, {"publication": 7}); staff read
"lan đã xuất bản chiến dịch mua-bao (lần xuất bản số 7) trên: website, citizens."
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from babel.support import NullTranslations

from broadcaster.staff.audit import AuditEntry

# Actors that are not a person: what did it instead.
MACHINE_ACTORS = {
    "cli": "the command line",
    "scheduler": "the scheduler",
    "schedule": "the scheduler",
    "admin": "the staff pages",
    "?": "an unknown name",
    "*": "several accounts",
}

# One sentence per action; the names in %(...)s come from the entry and its detail.
SENTENCES: Mapping[str, str] = {
    "login": "%(who)s signed in.",
    "login.failed": "Wrong password for the account %(who)s (%(failed)s times).",
    "login.throttled": "Sign-in to %(who)s refused while waiting (%(throttled)s times).",
    "user.setup": "%(who)s set their password.",
    "user.password-changed": "%(who)s changed their password.",
    "user.added": "%(who)s added the account %(user)s with the role %(role)s.",
    "user.role": "%(who)s gave %(user)s the role %(role)s.",
    "user.disabled": "%(who)s disabled the account %(user)s.",
    "user.enabled": "%(who)s enabled the account %(user)s again.",
    "user.setup-link": "%(who)s made a new setup link for %(user)s.",
    "token.issued": "%(who)s issued an API token for %(user)s (%(label)s).",
    "campaign.created": "%(who)s created the campaign %(campaign)s.",
    "campaign.edited": "%(who)s saved changes to the campaign %(campaign)s.",
    "campaign.withdrawn": "%(who)s withdrew the campaign %(campaign)s from every channel.",
    "review.requested": "%(who)s asked for a review of %(campaign)s.",
    "review.approved": "%(who)s approved %(campaign)s.",
    "review.rejected": "%(who)s rejected %(campaign)s.",
    "publication.created": "%(who)s published %(campaign)s (publication %(publication)s).",
    "publication.emergency": (
        "%(who)s made an emergency publish of %(campaign)s (publication %(publication)s), "
        "to be reviewed afterwards."
    ),
    "publication.released": (
        "%(who)s sent the held publication of %(campaign)s (publication %(publication)s)."
    ),
    "publication.held": (
        "Schedule %(schedule)s fired for %(campaign)s but the revision was not approved: "
        "held, not sent."
    ),
    "publication.retried": (
        "%(who)s retried %(deliveries)s failed deliveries of publication %(publication)s."
    ),
    "schedule.added": "%(who)s scheduled %(campaign)s for %(at)s.",
    "partner.added": "%(who)s added the media partner %(partner)s.",
    "partner.secret-rotated": "%(who)s rotated the signing secret of partner %(partner)s.",
    "partner.disabled": "%(who)s disabled the media partner %(partner)s.",
    "partner.enabled": "%(who)s enabled the media partner %(partner)s.",
    "partner.removed": "%(who)s removed the media partner %(partner)s.",
    "partner.replayed": "%(who)s replayed delivery %(delivery)s to partner %(partner)s.",
}

# Details worth a second sentence, with their label.
EXTRAS: Mapping[str, str] = {
    "comment": "Comment: %(value)s",
    "reason": "Reason: %(value)s",
    "channels": "Channels: %(value)s",
    "source": "From: %(value)s",
    "url": "Address: %(value)s",
    "grace_hours": "The old secret keeps signing for %(value)s hours.",
    "cancelled_deliveries": "Queued deliveries cancelled: %(value)s.",
}
SOURCES = {"cli": "the command line", "admin": "the staff pages", "schedule": "a schedule"}


class AuditWords:
    """Turns entries into sentences with one page's translations and time format."""

    def __init__(self, gettext: NullTranslations, time_text: Callable[[Any], str]) -> None:
        self._ = gettext.gettext
        self.time_text = time_text

    def actor(self, actor: str) -> str:
        """A person's name as is; what a machine actor is, in words."""
        machine = MACHINE_ACTORS.get(actor)
        return self._(machine) if machine else actor

    def sentence(self, entry: AuditEntry) -> str:
        """What happened, as one or more sentences."""
        detail = entry.detail
        values: dict[str, Any] = {k: _plain(v) for k, v in detail.items()}
        values.setdefault("role", "")
        if isinstance(detail.get("role"), str) and detail["role"]:
            values["role"] = self._(detail["role"])
        if isinstance(detail.get("at"), str):
            values["at"] = self.time_text(detail["at"])
        values["who"] = self.actor(entry.actor)
        values["campaign"] = entry.campaign_id or ""
        template = SENTENCES.get(entry.action)
        if template is None:
            head = self._("%(who)s: %(action)s.") % {"who": values["who"], "action": entry.action}
        else:
            try:
                head = self._(template) % values
            except (KeyError, TypeError, ValueError):
                head = self._(template).split("%(")[0].rstrip() + f" {entry.action}"
        return " ".join([head, *self._extras(detail)])

    def _extras(self, detail: Mapping[str, Any]) -> list[str]:
        found = []
        for key, label in EXTRAS.items():
            value = detail.get(key)
            if value in (None, "", []):
                continue
            if key == "source":
                value = self._(SOURCES.get(str(value), str(value)))
            found.append(self._(label) % {"value": _plain(value)})
        return found


def _plain(value: Any) -> str:
    """A detail as words: lists joined, nothing shown as a Python repr."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)
