"""Header fields as they go on the wire: RFC 2047 encoded words folded at whitespace.

`email`'s own folder drops the space between two encoded words when it breaks a line
between them on the Pythons we support (CPython gh-92081: "Bộ phận Một cửa" arrived as
"Bộ phận Mộtcửa"). `MAIL` is the SMTP policy with subjects and other free-text fields,
and address fields with plain addresses, written here instead:

- free text: words that need encoding (non-ASCII, or looking like an encoded word) are
  written as UTF-8 "B" encoded words of at most 72 characters, and the space before
  each following word goes *inside* the next encoded word, as RFC 2047 says decoders
  drop the whitespace between two encoded words; ASCII words stay as they are;
- display names: one encoded word for the whole name, since Python's parser keeps the
  whitespace between encoded words in a phrase where RFC 2047 drops it;
- lines are broken only before whitespace that is part of the value, so unfolding
  (removing CRLF) gives the value back exactly.

Anything else (parameters, Message-ID, addresses that are not plain ASCII) is left to
`email`.
"""

from __future__ import annotations

import base64
import re
from email.headerregistry import Address, AddressHeader, UnstructuredHeader
from email.policy import EmailPolicy
from typing import Any

LINE = 78  # RFC 5322's recommended limit; a single token longer than that keeps its line
_CHUNK = 45  # bytes per encoded word: 60 base64 characters, 72 with the =?utf-8?b?...?=
_LONG_WORD = 900  # a plain word longer than this is encoded, so it can be split
_PIECES = re.compile(r"[ \t]*[^ \t]+|[ \t]+")  # each word with the whitespace before it


def encoded_word(text: str) -> str:
    """`text` as one RFC 2047 encoded word (UTF-8, base64)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _plain(word: str) -> bool:
    """True when a word can stand in a header as it is (printable ASCII, not `=?...`)."""
    return (
        word.isascii()
        and word.isprintable()
        and "=?" not in word
        and "?=" not in word
        and len(word) <= _LONG_WORD
    )


def _chunks(text: str) -> list[str]:
    """`text` cut into pieces of at most _CHUNK bytes, at word starts where possible."""
    chunks: list[str] = []
    current = ""
    for piece in _PIECES.findall(text):
        if len((current + piece).encode("utf-8")) <= _CHUNK:
            current += piece
            continue
        if current:
            chunks.append(current)
            current = ""
        for char in piece:  # a piece too long for one word is cut between characters
            if current and len((current + char).encode("utf-8")) > _CHUNK:
                chunks.append(current)
                current = ""
            current += char
    if current:
        chunks.append(current)
    return chunks


def text_tokens(text: str) -> list[str]:
    """Free text as tokens, each but the first starting with the whitespace before it.

    Runs of words that need encoding become encoded words, the spaces inside a run
    carried inside them; the whitespace between plain text and a run stays outside.
    Text with whitespace at either end is encoded whole, as unfolding would lose it.
    """
    if text != text.strip(" \t"):
        return [encoded_word(chunk) for chunk in _chunks(text)]
    tokens: list[str] = []
    run: list[str] = []  # the pieces of the current run of words that need encoding
    for piece in _PIECES.findall(text):
        word = piece.lstrip(" \t")
        if not _plain(word):
            run.append(piece)
            continue
        tokens.extend(_encoded_run(run, first=not tokens))
        run.clear()
        tokens.append(piece)
    tokens.extend(_encoded_run(run, first=not tokens))
    return tokens


def _encoded_run(run: list[str], *, first: bool) -> list[str]:
    """Encoded-word tokens for a run of pieces; its leading whitespace stays outside."""
    if not run:
        return []
    body = "".join(run)
    lead = "" if first else body[: len(body) - len(body.lstrip(" \t"))]
    words = [encoded_word(chunk) for chunk in _chunks(body[len(lead) :])]
    return [lead + words[0], *(" " + word for word in words[1:])]


def address_tokens(addresses: tuple[Address, ...]) -> list[str] | None:
    """An address list as tokens; None when an address is not plain ASCII."""
    tokens: list[str] = []
    for index, address in enumerate(addresses):
        name = address.display_name
        if not address.addr_spec.isascii():
            return None
        if not name:
            parts = [address.addr_spec]
        elif _plain(name.replace(" ", "")):
            parts = [str(address)]  # quoted by `email` where the name needs it
        else:
            parts = [encoded_word(name), f"<{address.addr_spec}>"]
        tokens.append((" " if index else "") + parts[0])
        tokens.extend(" " + part for part in parts[1:])
        if index < len(addresses) - 1:
            tokens[-1] += ","
    return tokens


def fold(name: str, tokens: list[str], linesep: str = "\r\n") -> str:
    """`name: ` and the tokens, a line broken before a token that would pass LINE."""
    lines: list[str] = []
    line = f"{name}: {tokens[0]}"
    for token in tokens[1:]:
        if len(line) + len(token) > LINE:
            lines.append(line)
            line = token
        else:
            line += token
    lines.append(line)
    return linesep.join(lines) + linesep


def write_header(name: str, value: Any, linesep: str = "\r\n") -> str | None:
    """The folded field for a header `email` has parsed; None to leave it to `email`."""
    tokens: list[str] | None = None
    if isinstance(value, AddressHeader):
        if all(group.display_name is None for group in value.groups):
            tokens = address_tokens(value.addresses)
    elif isinstance(value, UnstructuredHeader):
        tokens = text_tokens(str(value))
    if not tokens:
        return None
    return fold(name, tokens, linesep)


class MailPolicy(EmailPolicy):
    """The SMTP policy with the header fields above written by `write_header`."""

    def fold(self, name: str, value: Any) -> str:
        folded = write_header(name, value, self.linesep)
        return folded if folded is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        folded = write_header(name, value, self.linesep)
        if folded is None:
            return super().fold_binary(name, value)
        return folded.encode("ascii")


MAIL = MailPolicy(linesep="\r\n")
