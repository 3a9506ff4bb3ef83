"""List mail as pre-built bytes: built once per (publication, locale), filled in per recipient.

`list_message` writes an ordinary RFC 5322 message (what `preview` shows) in which
placeholders stand where each recipient's values go: the address, the Message-ID and the
unsubscribe and preferences tokens. Both text parts are 8bit UTF-8 with every line under
998 octets, and the headers that carry placeholders are written here rather than by
`email`'s folder, so no transfer encoding or header folding can split a placeholder.
`MessageTemplate.parse` cuts such a message at its placeholders once; `fill` is then a
bytes join, with no `email.message` per recipient.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses

from broadcaster.mail.headers import MAIL

# The placeholders: plain ASCII words that are valid where they stand (an address, a
# Message-ID, a URL path segment), so the template itself is a readable preview.
TO_MARK = "nguoi-nhan@example.gov.vn"
MESSAGE_ID_MARK = "preview-message-id"
UNSUBSCRIBE_MARK = "PREVIEW-UNSUBSCRIBE-TOKEN"
PREFERENCES_MARK = "PREVIEW-PREFERENCES-TOKEN"

MAX_LINE = 990  # octets before CRLF; RFC 5322 allows 998
_NEWLINES = re.compile(r"\r\n|\r|\n")
_PERIOD = re.compile(rb"(?m)^\.")


class Slot(enum.IntEnum):
    """Where a recipient's value goes; `fill` takes the values in this order."""

    TO = 0
    MESSAGE_ID = 1
    UNSUBSCRIBE = 2
    PREFERENCES = 3


_MARKS = {
    TO_MARK.encode(): Slot.TO,
    MESSAGE_ID_MARK.encode(): Slot.MESSAGE_ID,
    UNSUBSCRIBE_MARK.encode(): Slot.UNSUBSCRIBE,
    PREFERENCES_MARK.encode(): Slot.PREFERENCES,
}
_MARK_SPLIT = re.compile(b"(" + b"|".join(re.escape(mark) for mark in _MARKS) + b")")


def crlf_lines(text: str) -> bytes:
    """UTF-8 with CRLF line ends, every line at most MAX_LINE octets, ending in CRLF."""
    lines: list[bytes] = []
    for line in _NEWLINES.split(text.rstrip("\r\n")):
        data = line.encode("utf-8")
        while len(data) > MAX_LINE:
            # Break at the last space that fits: whitespace in HTML and wrapped text.
            cut = data.rfind(b" ", 0, MAX_LINE)
            if cut <= 0:
                raise ValueError("a line of the message has over 990 octets and no space")
            lines.append(data[:cut])
            data = data[cut + 1 :]
        lines.append(data)
    return b"\r\n".join(lines) + b"\r\n"


def header_lines(headers: Sequence[tuple[str, str]]) -> bytes:
    """Headers encoded (RFC 2047) and folded (mail/headers.py), one CRLF-terminated field
    each."""
    message = EmailMessage(policy=MAIL)
    for name, value in headers:
        message[name] = value
    head = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    return head + b"\r\n"


def address_field(name: str, addresses: Sequence[str]) -> bytes:
    """An address field (To, Cc) for `addresses` parsed as the press desk's `recipients:`
    are, so "Tòa soạn (ví dụ) <a@b.vn>" keeps its "(ví dụ)"; CRLF-terminated."""
    message = EmailMessage(policy=MAIL)
    message[name] = [Address(text, addr_spec=spec) for text, spec in getaddresses(addresses)]
    return message.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


def list_message(
    *,
    static_headers: Sequence[tuple[str, str]],
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    language: str,
    text: str,
    html: str,
) -> bytes:
    """A multipart/alternative list message with placeholders for each recipient's values.

    `static_headers` are the same for every recipient, From first (then Subject, Date,
    List-Id...); To, Message-ID and the RFC 8058 unsubscribe headers are written here.
    """
    plain_body, html_body = crlf_lines(text), crlf_lines(html)
    boundary = "=_bc_" + hashlib.sha256(plain_body + html_body).hexdigest()[:32]
    head = b"".join(
        [
            header_lines(static_headers[:1]),
            f"To: {TO_MARK}\r\n".encode(),
            header_lines(static_headers[1:]),
            f"Message-ID: <{MESSAGE_ID_MARK}>\r\n".encode(),
            f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{unsubscribe_mailto}>\r\n".encode(),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
            f"Content-Language: {language}\r\n".encode(),
        ]
    )
    delimiter = f"--{boundary}\r\n".encode()

    def part(subtype: str, body: bytes) -> bytes:
        return (
            delimiter
            + f'Content-Type: text/{subtype}; charset="utf-8"\r\n'.encode()
            + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + body
        )

    return (
        head
        + b"\r\n"
        + part("plain", plain_body)
        + part("html", html_body)
        + (f"--{boundary}--\r\n".encode())
    )


@dataclass(frozen=True)
class Segments:
    """Bytes cut at placeholders: statics[0], slot[0], statics[1], ... statics[-1]."""

    statics: tuple[bytes, ...]
    slots: tuple[Slot, ...]

    @classmethod
    def cut(cls, data: bytes) -> Segments:
        pieces = _MARK_SPLIT.split(data)
        return cls(tuple(pieces[0::2]), tuple(_MARKS[mark] for mark in pieces[1::2]))

    def fill(self, values: Sequence[bytes]) -> list[bytes]:
        """The pieces to join, with `values` (indexed by Slot) in place of the placeholders."""
        statics = self.statics
        out = [statics[0]]
        for index, slot in enumerate(self.slots, 1):
            out.append(values[slot])
            out.append(statics[index])
        return out


@dataclass(frozen=True)
class MessageTemplate:
    """A message cut at its placeholders, plus a dot-stuffed copy for SMTP's DATA."""

    head: Segments  # up to and including the CRLF that ends the last header
    body: Segments  # after the blank line
    stuffed: Segments  # head, blank line and body with lines starting "." doubled

    @classmethod
    def parse(cls, message: bytes) -> MessageTemplate:
        """Cut a message (CRLF line ends) at its placeholders; one without any is fine."""
        if b"\r\n" not in message:
            message = message.replace(b"\n", b"\r\n")
        head, sep, body = message.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("not a message: no blank line after the headers")
        return cls(
            Segments.cut(head + b"\r\n"),
            Segments.cut(body),
            Segments.cut(_PERIOD.sub(b"..", message)),
        )

    @property
    def personal(self) -> bool:
        """True when the message has a recipient placeholder (list mail)."""
        return Slot.TO in self.head.slots

    def fill(self, values: Sequence[bytes]) -> bytes:
        """The whole message for one recipient."""
        return b"".join([*self.head.fill(values), b"\r\n", *self.body.fill(values)])

    def fill_stuffed(self, prefix: bytes, values: Sequence[bytes]) -> bytes:
        """`prefix` (e.g. a DKIM-Signature) + the message, dot-stuffed and ended for DATA."""
        return b"".join([prefix, *self.stuffed.fill(values), b".\r\n"])


def readdress(message: bytes, recipient: str, message_id: str) -> bytes:
    """A complete message with this recipient's To and Message-ID (desk mail).

    The two fields are written where the message had them, encoded like every other
    header, so the copy differs from the message (what `preview` shows) only there.
    """
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = message.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    fields = {
        b"to": address_field("To", [recipient]).rstrip(b"\r\n"),
        b"message-id": f"Message-ID: <{message_id}>".encode(),
    }
    kept: list[bytes] = []
    skipping = False
    for line in head.split(newline):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skipping = name in (b"to", b"message-id")
        if name in fields:
            kept.append(fields.pop(name))
        elif not skipping:
            kept.append(line)
    written = list(fields.values())  # those the message did not have go first
    return newline.join(written + kept).replace(b"\r\n", newline) + sep + body
