"""Reading the bounce mailbox: a Maildir folder, an mbox file, or one message file.

Processed messages are marked so that a second run skips them: in a Maildir they move to
`cur/` with the flags `P` (passed on: our mark) and `S` (seen); in an mbox they get an
`X-Broadcaster-Bounce` header. Messages that are not bounces stay exactly as they were.
A single message file is not marked; a soft bounce read again is not scored again all
the same, as the store remembers each message's key (see `process.message_key`).
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import re
from collections.abc import Callable
from pathlib import Path

from broadcaster.bounces.process import BounceOutcome, BounceProcessor, MessageResult, Report

PROCESSED_FLAG = "P"
MBOX_MARK = "X-Broadcaster-Bounce"


class BounceSourceError(Exception):
    """PATH is not something bounces can be read from; the message says what it is."""


async def process_path(
    path: Path, processor: BounceProcessor, advance: Callable[[int], None] = lambda count: None
) -> Report:
    """Process every unprocessed message in the Maildir, mbox or message file at `path`;
    `advance(1)` after each one."""
    kind = await asyncio.to_thread(_kind, path)
    if kind == "maildir":
        report = Report(f"Maildir {path}", on_add=advance)
        await _maildir(path, processor, report)
    elif kind == "mbox":
        report = Report(f"mbox {path}", on_add=advance)
        await _mbox(path, processor, report)
    else:
        report = Report(f"message file {path}", on_add=advance)
        report.add(await _process_file(path, path.name, processor))
    return report


def _kind(path: Path) -> str:
    """`maildir`, `mbox` or `message`; BounceSourceError for anything else."""
    if path.is_dir():
        if not ((path / "new").is_dir() or (path / "cur").is_dir()):
            raise BounceSourceError(
                f"{path} is a folder but not a Maildir (it has no new/ or cur/ folder)"
            )
        return "maildir"
    if not path.is_file():
        raise BounceSourceError(f"{path}: no such file or folder")
    try:
        with path.open("rb") as handle:
            start = handle.read(5)
    except OSError as exc:
        raise BounceSourceError(f"{path}: {exc.strerror or exc}") from None
    return "mbox" if start == b"From " else "message"


def _maildir_flags(filename: str) -> str:
    _, sep, info = filename.rpartition(":2,")
    return info if sep else ""


async def _maildir(folder: Path, processor: BounceProcessor, report: Report) -> None:
    for subdir in ("new", "cur"):
        directory = folder / subdir
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if PROCESSED_FLAG in _maildir_flags(entry.name):
                continue
            name = f"{subdir}/{entry.name}"
            result = await _process_file(entry, name, processor)
            report.add(result)
            if result.outcome.processed:
                await asyncio.to_thread(_mark_maildir, folder, entry)


def _mark_maildir(folder: Path, entry: Path) -> None:
    """Move to cur/ with our flag added (atomic rename, as Maildir readers expect)."""
    unique, sep, info = entry.name.rpartition(":2,")
    if not sep:
        unique, info = entry.name, ""
    flags = "".join(sorted(set(info) | {PROCESSED_FLAG, "S"}))
    os.replace(entry, folder / "cur" / f"{unique}:2,{flags}")


async def _process_file(path: Path, name: str, processor: BounceProcessor) -> MessageResult:
    try:
        raw = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return MessageResult(name, BounceOutcome.UNREADABLE, detail=exc.strerror or str(exc))
    return await processor.process(raw, name)


async def _mbox(path: Path, processor: BounceProcessor, report: Report) -> None:
    box = mailbox.mbox(str(path), create=False)
    await asyncio.to_thread(box.lock)  # the MTA appends under the same lock
    try:
        for number, key in enumerate(sorted(box.keys()), start=1):
            name = f"{path.name}#{number}"
            try:
                raw = box.get_bytes(key)
            except (OSError, ValueError) as exc:
                report.add(MessageResult(name, BounceOutcome.UNREADABLE, detail=str(exc)))
                continue
            head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0].lower()
            if re.search(rb"(?m)^" + MBOX_MARK.lower().encode() + rb":", head):
                continue
            result = await processor.process(raw, name)
            report.add(result)
            if result.outcome.processed:
                _mark_mbox(box, key, result.outcome)
    finally:
        # Writes the marks made so far (even when the store failed midway) and unlocks.
        await asyncio.to_thread(box.close)


def _mark_mbox(box: mailbox.mbox, key: str, outcome: BounceOutcome) -> None:
    message = box.get_message(key)
    message[MBOX_MARK] = f"processed: {outcome}"
    box[key] = message
