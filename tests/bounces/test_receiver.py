"""The built-in receiver: a real SMTP conversation with aiosmtpd, then the same processor."""

from __future__ import annotations

import mailbox
from pathlib import Path

import aiosmtplib
import pytest

from broadcaster.bounces.receiver import BOUNCE_LISTEN_ENV, bounce_receiver
from broadcaster.settings import Settings
from broadcaster.subscribers.store import SqlSubscriberStore
from tests.bounces.conftest import subscribe
from tests.bounces.messages import LIST_DOMAIN, dsn, ordinary, read_verp, verp_address


async def send(port: int, sender: str, recipient: str, message: bytes) -> str:
    """One SMTP transaction as a remote MTA makes it (a bounce has the null sender <>)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        await client.mail(sender)
        await client.rcpt(recipient)
        reply = await client.data(message)
    return reply.message


def settings_for(root: Path, listen: str = "127.0.0.1:0") -> Settings:
    return Settings.from_environ(root, {BOUNCE_LISTEN_ENV: listen})


async def test_a_bounce_sent_over_smtp_suppresses_the_verp_subscriber(
    tmp_path: Path, store: SqlSubscriberStore
) -> None:
    email = "hop.thu.mat@mail.example.vn"
    subscriber_id = await subscribe(store, email)
    settings = settings_for(tmp_path)
    async with bounce_receiver(
        settings, store, domains=[LIST_DOMAIN], read_verp=read_verp
    ) as receiver:
        assert receiver is not None
        # The remote MTA's DSN names a forwarding target; the envelope names our subscriber.
        message = dsn("dich@other.example.vn", to=verp_address(subscriber_id))
        reply = await send(receiver.port, "", verp_address(subscriber_id), message)
        assert reply.startswith("2.0.0")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await send(receiver.port, "", "someone@elsewhere.example.vn", message)
        assert refused.value.code == 550
        # Mail that is not a bounce is accepted and kept for a person to read.
        await send(receiver.port, "nguoi.dan@mail.example.vn", f"bounces@{LIST_DOMAIN}", ordinary())
    assert await store.is_suppressed(email)
    kept = mailbox.Maildir(str(tmp_path / "var" / "bounces"), create=False)
    assert [m["Message-ID"] for m in kept] == ["<reply-1@mail.example.vn>"]


async def test_without_the_setting_there_is_no_receiver(
    tmp_path: Path, store: SqlSubscriberStore
) -> None:
    async with bounce_receiver(Settings.from_environ(tmp_path, {}), store) as receiver:
        assert receiver is None
