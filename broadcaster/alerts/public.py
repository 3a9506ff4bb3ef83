"""The public alerts `serve` answers: read from the store's publications of alert
campaigns, rendered (and signed) once per message, and kept until the workspace changes.

Messages never change once made, so each CAP document is built once; the index is rebuilt
when the store holds a publication of an alert campaign it has not seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from lxml import etree

from broadcaster.alerts.cap import alert_element
from broadcaster.alerts.index import atom_index
from broadcaster.alerts.messages import (
    AlertMessage,
    Published,
    alert_sender,
    current,
    messages,
)
from broadcaster.alerts.signing import AlertSigner, SigningError
from broadcaster.outbox.snapshot import from_snapshot
from broadcaster.outbox.tables import PublicationKind
from broadcaster.outbox.views import OutboxViews
from broadcaster.settings import Settings, SettingsError
from broadcaster.text.render import Publication
from broadcaster.text.strings import text
from broadcaster.workspace.models import DEFAULT_LOCALE, Workspace

# The index drops expired alerts: rebuilt at least this often even when nothing new is out.
INDEX_MAX_AGE = timedelta(minutes=1)


@dataclass
class _Seen:
    """What was built from one workspace: parsed publications, documents, the index."""

    workspace: Workspace
    parsed: dict[int, Publication]
    documents: dict[str, bytes]
    messages: dict[str, AlertMessage]
    last_id: int = 0
    index: bytes | None = None
    built_at: datetime | None = None


class PublicAlerts:
    """CAP documents by identifier and the Atom index, for the web routes."""

    def __init__(
        self,
        history: OutboxViews,
        workspace: Callable[[], Workspace],
        settings: Settings,
        signer: AlertSigner | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.history = history
        self.workspace = workspace
        self.base_url = settings.base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or "localhost"
        self.signer = signer
        self.clock = clock
        self._seen: _Seen | None = None

    @classmethod
    def open(
        cls, history: OutboxViews, workspace: Callable[[], Workspace], settings: Settings
    ) -> PublicAlerts:
        """With the signer the settings name (SettingsError when it cannot be read)."""
        signer = None
        if settings.cap_key_file is not None and settings.cap_cert_file is not None:
            try:
                signer = AlertSigner.from_files(settings.cap_key_file, settings.cap_cert_file)
            except SigningError as exc:
                raise SettingsError(str(exc)) from None
        return cls(history, workspace, settings, signer)

    def sender(self, workspace: Workspace) -> str:
        """workspace.yaml `alerts: sender:`, else the host of BROADCASTER_BASE_URL."""
        return alert_sender(workspace.alerts, self.host)

    async def _refresh(self) -> _Seen:
        workspace = self.workspace()
        seen = self._seen
        if seen is None or seen.workspace is not workspace:
            seen = self._seen = _Seen(workspace, {}, {}, {})
        ids = sorted(c.id for c in workspace.campaigns.values() if c.alert is not None)
        rows = await self.history.campaign_publications(ids)
        newest = max((row.id for row in rows), default=0)
        now = self.clock()
        fresh = seen.built_at is not None and now - seen.built_at < INDEX_MAX_AGE
        if seen.index is not None and newest == seen.last_id and fresh:
            return seen
        by_campaign: dict[str, list[Published]] = {}
        for row in rows:
            if row.id not in seen.parsed:
                seen.parsed[row.id] = from_snapshot(row.snapshot, workspace, self.base_url)
            withdrawal = row.kind == PublicationKind.WITHDRAWAL
            item = Published(row.id, withdrawal, row.created_at, seen.parsed[row.id])
            by_campaign.setdefault(row.campaign_id, []).append(item)
        sender, zone = self.sender(workspace), workspace.timezone
        made = [messages(items, sender, self.host, zone) for items in by_campaign.values()]
        seen.messages = {m.identifier: m for each in made for m in each}
        title = text("cap_index_title", DEFAULT_LOCALE)
        seen.index = atom_index(current(made, now), self.base_url, title, now)
        seen.last_id, seen.built_at = newest, now
        return seen

    async def document(self, identifier: str) -> bytes | None:
        """The CAP XML of one message (signed when a key is configured), or None."""
        seen = await self._refresh()
        if identifier in seen.documents:
            return seen.documents[identifier]
        message = seen.messages.get(identifier)
        if message is None:
            return None
        element = alert_element(message, seen.workspace.alerts)
        if self.signer is not None:
            element = self.signer.sign(element)
        data: bytes = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
        seen.documents[identifier] = data
        return data

    async def index(self) -> bytes:
        """The Atom index of current alerts."""
        seen = await self._refresh()
        assert seen.index is not None
        return seen.index
