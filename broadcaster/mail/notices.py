"""One-off mail outside the outbox: double opt-in confirmations and notices to staff
(approvals to give, channels that stopped).

They go out through the workspace's own email channels (their sender, transport and
DKIM key): confirmations through the subscriber list's, staff mail through the press
desk's, else the list's. Which those are is asked anew for every message, so a reload
that changes the channels changes where the next one comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from broadcaster.mail.headers import MAIL
from broadcaster.mail.outbound import Outbound
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.tables import Role
from broadcaster.text.render import Templates

NO_LIST_CHANNEL = (
    "no email channel with audience: subscribers in channels/; "
    "add one so confirmation emails can be sent"
)


@dataclass(frozen=True)
class Postbox:
    """A channel's way out, with the templates its one-off messages are written from."""

    outbound: Outbound
    templates: Templates


@dataclass(frozen=True)
class Postboxes:
    """Where one-off mail goes out: confirmations (the list's), staff mail (the desk's,
    else the list's). None where the workspace has no such channel."""

    confirmations: Postbox | None = None
    staff: Postbox | None = None


class Notices:
    """Sends confirmation emails (for `Confirmations`) and staff notices (for `Approvals`)."""

    def __init__(
        self,
        postboxes: Callable[[], Postboxes],
        accounts: Accounts | None = None,
        base_url: str = "",
    ) -> None:
        self.postboxes = postboxes
        self.accounts = accounts
        self.base_url = base_url

    async def send_confirmation(
        self, subscriber_id: int, email: str, locale: str, confirm_url: str
    ) -> None:
        """The double opt-in email (the ConfirmationMailer of subscribers/confirmations)."""
        postbox = self.postboxes().confirmations
        if postbox is None:
            raise LookupError(NO_LIST_CHANNEL)
        options, render = postbox.outbound.options, postbox.templates.render
        context = {"locale": locale, "confirm_url": confirm_url, "list_id": options.list_id}
        subject = render("email/confirm_subject.txt", **context).strip()
        msg = _message(postbox.outbound, email, subject)
        msg.set_content(render("email/confirm.txt", **context), cte="8bit")
        msg["Content-Language"] = locale
        await postbox.outbound.send_one(email, msg)

    async def send_notice(self, to: str, subject: str, text: str) -> bool:
        """A plain-text message to staff; False when the workspace has no email channel."""
        postbox = self.postboxes().staff
        if postbox is None:
            return False
        msg = _message(postbox.outbound, to, subject)
        msg.set_content(text, cte="8bit")
        await postbox.outbound.send_one(to, msg)
        return True

    async def notify_approvers(self, subject: str, text: str) -> int:
        """Email every enabled approver and admin who has an address; how many were sent.

        `/admin/` in `text` becomes a link to the admin pages. Without an email channel,
        or without staff accounts, nobody is emailed.
        """
        return await self._notify(Role.APPROVER, subject, text)

    async def notify_admins(self, subject: str, text: str) -> int:
        """Email every enabled admin who has an address (a channel stopped); how many."""
        return await self._notify(Role.ADMIN, subject, text)

    async def _notify(self, role: Role, subject: str, text: str) -> int:
        if self.postboxes().staff is None or self.accounts is None:
            return 0
        text = text.replace("/admin/", f"{self.base_url}/admin/", 1)
        sent = 0
        for user in await self.accounts.list_users():
            if user.email and not user.disabled and user.role.allows(role):
                sent += await self.send_notice(user.email, subject, text)
        return sent


def _message(outbound: Outbound, to: str, subject: str) -> EmailMessage:
    """The headers of an automatic message from the channel's sender; no body yet."""
    msg = EmailMessage(policy=MAIL)
    msg["From"] = outbound.options.from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=outbound.options.domain)
    msg["Auto-Submitted"] = "auto-generated"
    return msg
