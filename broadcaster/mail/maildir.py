"""The embedded transport: messages written into a Maildir (`var/mail/`) any client can open."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Sequence
from pathlib import Path

from broadcaster.outbox.outcomes import RetryLater

MaildirOutcome = str | RetryLater


def _store_all(folder: Path, messages: Sequence[bytes]) -> list[MaildirOutcome]:
    try:
        # Maildir(create=True) makes only the last folder, and races with other writers
        # creating it at the same time (FileExistsError): make the whole layout idempotently.
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(str(folder), create=False)
    except OSError as exc:
        error = RetryLater(f"cannot open Maildir {folder}: {exc.strerror or exc}")
        return [error] * len(messages)
    outcomes: list[MaildirOutcome] = []
    try:
        for message in messages:
            try:
                key = box.add(message)
            except OSError as exc:
                outcomes.append(RetryLater(f"cannot write to {folder}: {exc.strerror or exc}"))
            else:
                outcomes.append(f"maildir {folder}/new/{key}")
    finally:
        box.close()
    return outcomes


def with_return_path(message: bytes, sender: str) -> bytes:
    """The message as a final delivery agent stores it: `Return-Path:` first."""
    return f"Return-Path: <{sender}>\r\n".encode() + message


async def to_maildir_many(folder: Path, messages: Sequence[bytes]) -> list[MaildirOutcome]:
    """Write each message into the Maildir (one thread hop per batch); receipts or errors."""
    return await asyncio.to_thread(_store_all, folder, messages)


async def to_maildir(folder: Path, message: bytes) -> str:
    """Write one message into the Maildir; returns its receipt, raises RetryLater."""
    (outcome,) = await to_maildir_many(folder, [message])
    if isinstance(outcome, RetryLater):
        raise outcome
    return outcome
