"""Handing finished messages to the mail system: a Maildir folder or an SMTP relay."""

from __future__ import annotations

import asyncio
import mailbox
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field

from .base import DeliveryRejected, RetryLater


def readdress(message: bytes, recipient: str, message_id: str) -> bytes:
    """The pre-built message with this recipient's To and Message-ID (headers only)."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = message.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    kept: list[bytes] = []
    skipping = False
    for line in head.split(newline):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skipping = name in (b"to", b"message-id")
        if not skipping:
            kept.append(line)
    extra = [f"To: {recipient}".encode(), f"Message-ID: <{message_id}>".encode()]
    return newline.join(extra + kept) + sep + body


def _store(folder: Path, message: bytes) -> str:
    box = mailbox.Maildir(str(folder), create=True)
    try:
        return box.add(message)
    finally:
        box.close()


async def to_maildir(folder: Path, message: bytes) -> str:
    """Write the message into a Maildir (any mail client can open it); returns its key."""
    try:
        key = await asyncio.to_thread(_store, folder, message)
    except OSError as exc:
        raise RetryLater(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    return f"maildir {folder}/new/{key}"


class SmtpOptions(BaseModel):
    """`smtp:` in an email channel file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: str = Field(default="", json_schema_extra={"secret": True})
    timeout: float = Field(default=30, gt=0)


async def to_smtp(message: bytes, sender: str, recipient: str, smtp: SmtpOptions) -> str:
    """Send through an SMTP relay; 4xx and dropped connections retry, 5xx is final."""
    host, port = smtp.host, smtp.port
    try:
        _, reply = await aiosmtplib.send(
            message,
            sender=parseaddr(sender)[1],
            recipients=[parseaddr(recipient)[1]],
            hostname=host,
            port=port,
            use_tls=smtp.tls == "tls",
            start_tls=smtp.tls == "starttls",
            username=smtp.username or None,
            password=smtp.password or None,
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refusal = exc.recipients[0] if exc.recipients else None
        if refusal is not None and 400 <= refusal.code < 500:
            raise RetryLater(f"SMTP {refusal.code} {refusal.message}") from exc
        raise DeliveryRejected(str(refusal or exc)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        if 400 <= exc.code < 500:
            raise RetryLater(f"SMTP {exc.code} {exc.message}") from exc
        raise DeliveryRejected(f"SMTP {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise RetryLater(f"SMTP relay {host}:{port}: {exc}") from exc
    return f"smtp {host}:{port}: {reply}"
