"""What a message in the bounce mailbox says: a hard or soft bounce, a complaint, or neither.

Pure: no store, no files. DSNs (RFC 3464) and the many non-standard bounce formats are
read by flufl.bounce; ARF complaints (RFC 5965) and the VERP return path the bounce was
sent to are read here.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from broadcaster.bounces.verp import verp_token

# A detector that trips over a broken message raises (we report the message by name) and
# also logs the traceback itself; keep that out of the command's output.
_flufl_log = logging.getLogger("flufl.bounce")
_flufl_log.addHandler(logging.NullHandler())
_flufl_log.propagate = False

# Where an MTA records the envelope recipient a message was delivered to, most exact first.
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.\d{1,3}\.\d{1,3}(?![\d.])")


class Kind(enum.StrEnum):
    HARD = "hard-bounce"
    SOFT = "soft-bounce"
    COMPLAINT = "complaint"
    NOT_BOUNCE = "not-a-bounce"
    # It reads as a bounce, but names no recipient we can act on.
    UNRECOGNISED = "unrecognised-bounce"


@dataclass(frozen=True)
class Finding:
    """One message, understood."""

    kind: Kind
    # Failed addresses from the DSN, or the complained-about recipient from the ARF report.
    addresses: tuple[str, ...]
    # VERP tokens found on the message (envelope, delivery headers, the original's Return-Path).
    verp_tokens: tuple[str, ...]
    detail: str


def classify(message: Message, envelope_recipients: Sequence[str] = ()) -> Finding:
    """Read one message from the bounce mailbox (or the receiver, with its RCPT TO)."""
    tokens = _verp_tokens(message, envelope_recipients)
    subject = subject_of(message)
    feedback = _feedback_type(message)
    if feedback is not None:
        if feedback != "abuse":
            return Finding(Kind.NOT_BOUNCE, (), tokens, f"feedback report of type {feedback!r}")
        return Finding(Kind.COMPLAINT, _complained_about(message), tokens, "abuse report")
    temporary, permanent = _failures(message)
    if permanent:
        return Finding(Kind.HARD, permanent, tokens, _statuses(message) or "permanent failure")
    if temporary:
        return Finding(Kind.SOFT, temporary, tokens, _statuses(message) or "temporary failure")
    if not _looks_like_bounce(message):
        return Finding(Kind.NOT_BOUNCE, (), tokens, f"Subject: {subject!r}" if subject else "")
    if not tokens:
        return Finding(Kind.UNRECOGNISED, (), tokens, f"Subject: {subject!r}")
    # A malformed bounce to a VERP address: the return path names the subscriber; only an
    # explicit 5.x.x status makes it permanent, anything less is scored as soft.
    codes = {match.group(1) for match in _ENHANCED_STATUS.finditer(_text_of(message))}
    kind = Kind.HARD if codes == {"5"} else Kind.SOFT
    return Finding(kind, (), tokens, f"malformed bounce; Subject: {subject!r}")


def _failures(message: Message) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(temporary, permanent) failed addresses; a 4.x.x status is never permanent."""
    temporary_raw, permanent_raw = all_failures(message)
    temporary = {_decode(a) for a in temporary_raw}
    permanent = {_decode(a) for a in permanent_raw}
    # Some MTAs give up on a full mailbox with `Action: failed` and `Status: 4.2.2`; it may
    # clear, so it is scored, not suppressed at once.
    for address, status in _dsn_statuses(message).items():
        if address in permanent and status.startswith("4."):
            permanent.discard(address)
            temporary.add(address)
    return tuple(sorted(temporary - permanent)), tuple(sorted(permanent))


def _decode(address: bytes) -> str:
    return address.decode("ascii", "replace").strip().lower()


def _dsn_statuses(message: Message) -> dict[str, str]:
    """Final-Recipient (lower-cased) -> Status of each per-recipient DSN block."""
    statuses: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status = str(block.get("Status", "")).strip().split(" ", 1)[0]
            for header in ("Original-Recipient", "Final-Recipient"):
                value = str(block.get(header, ""))
                address = value.split(";", 1)[-1].strip().strip("<>").lower()
                if address and status:
                    statuses.setdefault(address, status)
    return statuses


def _statuses(message: Message) -> str:
    found = sorted(set(_dsn_statuses(message).values()))
    return f"status {', '.join(found)}" if found else ""


def _looks_like_bounce(message: Message) -> bool:
    if message.get_content_type() == "multipart/report":
        return str(message.get_param("report-type", "")).lower() == "delivery-status"
    # Not a null Return-Path alone: vacation auto-replies come from <> too (RFC 3834).
    sender = parseaddr(str(message.get("From", "")))[1]
    return bool(_BOUNCE_SENDERS.match(sender))


def _feedback_type(message: Message) -> str | None:
    """The ARF Feedback-Type (lower case) when this is a feedback report, else None."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "feedback-report":
        return None
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            fields = _fields(part)
            return str(fields.get("Feedback-Type", "")).strip().lower() or "unknown"
    return "unknown"


def _fields(part: Message) -> Message:
    """The header block of a message/* part, however the parser stored it."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return HeaderParser().parsestr(payload)
    return Message()


def _original_headers(message: Message) -> Iterable[Message]:
    """The returned original message (or its headers) inside a report."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/rfc822-headers", "text/rfc822-headers"):
            yield _fields(part)


def _complained_about(message: Message) -> tuple[str, ...]:
    """The recipient an abuse report is about, when the reporter did not redact it."""
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            found += [a for _, a in getaddresses(_fields(part).get_all("Original-Rcpt-To", []))]
    if not found:
        for original in _original_headers(message):
            found += [a for _, a in getaddresses(original.get_all("To", []))]
    return tuple(sorted({a.strip().lower() for a in found if "@" in a}))


def _verp_tokens(message: Message, envelope_recipients: Sequence[str]) -> tuple[str, ...]:
    candidates = list(envelope_recipients)
    for header in _ENVELOPE_HEADERS:
        candidates += [a for _, a in getaddresses(message.get_all(header, []))]
    # A complaint or a returned message carries our original headers, Return-Path included.
    for original in _original_headers(message):
        candidates += [a for _, a in getaddresses(original.get_all("Return-Path", []))]
    tokens: list[str] = []
    for address in candidates:
        token = verp_token(address)
        if token is not None and token not in tokens:
            tokens.append(token)
    return tuple(tokens)


def _text_of(message: Message) -> str:
    texts: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                try:
                    texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
                except LookupError:  # an unknown charset name
                    texts.append(payload.decode("latin-1"))
    return "\n".join(texts)


def subject_of(message: Message) -> str:
    """The decoded Subject on one line, shortened for a report."""
    raw = message.get("Subject", "")
    try:
        value = str(make_header(decode_header(str(raw))))
    except (ValueError, LookupError):
        value = str(raw)
    return " ".join(value.split())[:120]
