"""Double opt-in emails that are never lost: sent at once, and swept up when that failed.

Every confirmation email owed is recorded in the store (`confirmation_due_at`) in the
same transaction as the subscribe request or the import that owes it. A subscribe on the
site sends it at once (`send_now`) and is due for the sweep a minute later in case that
did not work (the relay was down, the process died); an import is due at once. The
service's sweep (`run`) sends whatever is due; sending clears the due time. One
mechanism for both paths, so a crash or an unreachable relay delays an email but never
drops it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from broadcaster.outbox.outcomes import DeliveryRejected
from broadcaster.subscribers.api import Recipient, Tokens

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 30.0  # seconds between looks at the store for confirmations due


class ConfirmationMailer(Protocol):
    """Sends the double opt-in email (mail/notices.py implements it)."""

    async def send_confirmation(
        self, subscriber_id: int, email: str, locale: str, confirm_url: str
    ) -> None: ...


class ConfirmationStore(Protocol):
    """The part of the subscriber store that keeps confirmations due."""

    async def confirmations_due(
        self, batch: int = 1000, due_by: datetime | None = None
    ) -> list[Recipient]: ...

    async def mark_confirmation_sent(self, ids: list[int]) -> None: ...

    async def postpone_confirmation(self, ids: list[int], until: datetime | None) -> None: ...

    async def pending_recipient(self, subscriber_id: int) -> Recipient | None: ...


class Confirmations:
    """Sends the confirmation emails the store says are owed."""

    def __init__(
        self,
        store: ConfirmationStore,
        tokens: Tokens,
        mailer: ConfirmationMailer,
        base_url: str,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.mailer = mailer
        self.base_url = base_url.rstrip("/")

    async def _send(self, recipient: Recipient) -> None:
        token = self.tokens.make("confirm", recipient.id, recipient.token_version)
        url = f"{self.base_url}/confirm/{token}"
        await self.mailer.send_confirmation(recipient.id, recipient.email, recipient.locale, url)
        await self.store.mark_confirmation_sent([recipient.id])

    async def send_now(self, subscriber_id: int) -> bool:
        """Send one subscriber's confirmation right away; on failure the sweep sends it."""
        try:
            recipient = await self.store.pending_recipient(subscriber_id)
            if recipient is None:  # confirmed, deleted or suppressed meanwhile
                return False
            await self._send(recipient)
        except Exception as exc:
            log.warning(
                "subscriber %s: the confirmation email was not sent (%s); it will be "
                "sent again shortly",
                subscriber_id,
                exc,
            )
            return False
        return True

    async def send_due(self, due_by: datetime | None = None) -> int:
        """Send every confirmation due (by `due_by`, default now); stop at the first
        failure that is not this address's own (relay down), leaving the rest for the
        next sweep."""
        sent = 0
        while due := await self.store.confirmations_due(due_by=due_by):
            for recipient in due:
                try:
                    await self._send(recipient)
                except DeliveryRejected as exc:
                    # The relay refuses this address for good: retrying will not help.
                    log.warning("subscriber %s: confirmation refused: %s", recipient.id, exc)
                    await self.store.postpone_confirmation([recipient.id], None)
                except Exception as exc:
                    log.warning("confirmation emails wait for the next try: %s", exc)
                    return sent
                else:
                    sent += 1
        if sent:
            log.info("sent %s confirmation emails", sent)
        return sent

    async def run(self, interval: float = SWEEP_INTERVAL) -> None:
        """Sweep every `interval` seconds until cancelled."""
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("could not look for confirmation emails due")
            await asyncio.sleep(interval)
