"""Acting on a bounce or a complaint: suppress, score or unsubscribe, and say what was done."""

from __future__ import annotations

import enum
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from broadcaster.bounces.classify import Finding, Kind, classify, subject_of
from broadcaster.bounces.verp import SubscriberReader
from broadcaster.subscribers.api import SubscriberStore

log = logging.getLogger(__name__)


class BounceOutcome(enum.StrEnum):
    """What processing one message did; the first four mark it processed."""

    HARD_BOUNCE = "hard bounce"
    SOFT_BOUNCE = "soft bounce"
    COMPLAINT = "complaint"
    REPEATED = "repeated bounce"  # a soft bounce already scored: read before, not counted
    NOT_BOUNCE = "not a bounce"
    UNRECOGNISED = "unrecognised bounce"
    UNREADABLE = "unreadable"

    @property
    def processed(self) -> bool:
        """True when the store was told; the message need not be read again."""
        return self in (
            BounceOutcome.HARD_BOUNCE,
            BounceOutcome.SOFT_BOUNCE,
            BounceOutcome.COMPLAINT,
            BounceOutcome.REPEATED,
        )


_OUTCOME = {
    Kind.HARD: BounceOutcome.HARD_BOUNCE,
    Kind.SOFT: BounceOutcome.SOFT_BOUNCE,
    Kind.COMPLAINT: BounceOutcome.COMPLAINT,
    Kind.NOT_BOUNCE: BounceOutcome.NOT_BOUNCE,
    Kind.UNRECOGNISED: BounceOutcome.UNRECOGNISED,
}


@dataclass(frozen=True)
class MessageResult:
    """One message: what it was, which addresses it concerned, what changed."""

    name: str
    outcome: BounceOutcome
    addresses: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()  # now never mailed again
    unsubscribed: tuple[int, ...] = ()  # subscriber ids
    detail: str = ""

    def line(self) -> str:
        """How `bounces process` lists this message."""
        parts = [f"{self.name}: {self.outcome}"]
        if self.addresses:
            parts.append(", ".join(self.addresses))
        if self.suppressed:
            parts.append("suppressed")
        if self.unsubscribed:
            parts.append("unsubscribed")
        if self.detail:
            parts.append(self.detail)
        return " - ".join(parts)


@dataclass
class Report:
    """Every message of one run, counted per outcome."""

    source: str
    results: list[MessageResult] = field(default_factory=list)
    # Told of each message added (the progress of `bounces process`).
    on_add: Callable[[int], None] = field(default=lambda count: None, repr=False)

    def add(self, result: MessageResult) -> None:
        self.results.append(result)
        self.on_add(1)

    @property
    def counts(self) -> Counter[BounceOutcome]:
        return Counter(result.outcome for result in self.results)

    @property
    def suppressed(self) -> int:
        return sum(len(result.suppressed) for result in self.results)

    @property
    def unsubscribed(self) -> int:
        return sum(len(result.unsubscribed) for result in self.results)

    def left_alone(self) -> list[MessageResult]:
        """Messages that were not acted on (not bounces, unrecognised, unreadable)."""
        return [result for result in self.results if not result.outcome.processed]

    def summary(self) -> list[str]:
        """The report as `bounces process` prints it."""
        counts = self.counts
        lines = [f"{self.source}: {len(self.results)} message(s)"]
        for outcome in BounceOutcome:
            if counts[outcome]:
                lines.append(f"  {outcome + 's':<22} {counts[outcome]}")
        lines.append(
            f"  {'addresses suppressed':<22} {self.suppressed}, "
            f"subscribers unsubscribed {self.unsubscribed}"
        )
        left = self.left_alone()
        if left:
            lines.append("left alone:")
            lines += [f"  {result.line()}" for result in left]
        repeated = [r for r in self.results if r.outcome is BounceOutcome.REPEATED]
        if repeated:
            lines.append("not counted again:")
            lines += [f"  {result.line()}" for result in repeated]
        return lines


def message_key(message: Message, raw: bytes) -> str:
    """What identifies a bounce message however often it is read: SHA-256 of its
    Message-ID, or of the whole message when it has none."""
    message_id = " ".join(str(message.get("Message-ID", "")).split())
    if not message_id:
        return hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(b"message-id:" + message_id.encode("utf-8", "replace")).hexdigest()


def parse(raw: bytes) -> Message:
    """A message as flufl.bounce expects it (compat32: the classic email.message.Message)."""
    return BytesParser(policy=policy.compat32).parsebytes(raw)


class BounceProcessor:
    """Runs each message through `classify` and tells the subscriber store what it means."""

    def __init__(self, store: SubscriberStore, read_verp: SubscriberReader) -> None:
        self.store = store
        self.read_verp = read_verp

    async def process(
        self, raw: bytes, name: str, envelope_recipients: Sequence[str] = ()
    ) -> MessageResult:
        """Process one message; a message that cannot be read is reported, never raised.

        Errors from the store (the database is down) do propagate: nothing can be done then.
        """
        try:
            message = parse(raw)
            finding = classify(message, envelope_recipients)
            key = message_key(message, raw)
        except Exception as exc:  # a message can break a parser in any way
            log.warning("bounce %s cannot be read: %s: %s", name, type(exc).__name__, exc)
            return MessageResult(name, BounceOutcome.UNREADABLE, detail=_reason(exc))
        return await self._act(name, finding, message, key)

    async def _act(self, name: str, finding: Finding, message: Message, key: str) -> MessageResult:
        outcome = _OUTCOME[finding.kind]
        if not outcome.processed:
            return MessageResult(name, outcome, detail=finding.detail)
        subscriber_id, listed = await self._subscriber(finding.verp_tokens)
        # The VERP return path names the list address we mailed; a DSN may name the
        # address a mailbox forwarded to, which is not ours to suppress.
        addresses = (listed,) if listed else finding.addresses
        if not addresses and subscriber_id is None:
            detail = f"names no recipient; Subject: {subject_of(message)!r}"
            return MessageResult(name, BounceOutcome.UNRECOGNISED, detail=detail)
        if finding.kind is Kind.COMPLAINT:
            return await self._complaint(name, subscriber_id, addresses, finding.detail)
        hard = finding.kind is Kind.HARD
        if not hard and await self.store.bounce_counted(key):
            detail = "already counted when this message was first processed"
            return MessageResult(name, BounceOutcome.REPEATED, addresses, detail=detail)
        suppressed: list[str] = []
        rejected: list[str] = []
        for address in addresses:
            try:
                if await self.store.record_bounce(address, hard=hard, message=key):
                    suppressed.append(address)
            except ValueError:  # the DSN names something that is not an address
                rejected.append(address)
        if rejected and len(rejected) == len(addresses):
            detail = f"names no valid address ({', '.join(rejected)})"
            return MessageResult(name, BounceOutcome.UNRECOGNISED, detail=detail)
        return MessageResult(name, outcome, addresses, tuple(suppressed), detail=finding.detail)

    async def _complaint(
        self, name: str, subscriber_id: int | None, addresses: tuple[str, ...], detail: str
    ) -> MessageResult:
        unsubscribed: tuple[int, ...] = ()
        if subscriber_id is not None and await self.store.unsubscribe(
            subscriber_id, ip=None, how="complaint"
        ):
            unsubscribed = (subscriber_id,)
        suppressed: list[str] = []
        for address in addresses:
            try:
                await self.store.suppress(address, "complaint")
            except ValueError:  # a redacted or mangled recipient
                continue
            suppressed.append(address)
        if not unsubscribed and not suppressed:
            detail = f"{detail}; names no recipient we know"
            return MessageResult(name, BounceOutcome.UNRECOGNISED, addresses, detail=detail)
        return MessageResult(
            name, BounceOutcome.COMPLAINT, addresses, tuple(suppressed), unsubscribed, detail=detail
        )

    async def _subscriber(self, tokens: Sequence[str]) -> tuple[int | None, str | None]:
        """(subscriber id, their list address) from the first genuine VERP token."""
        for token in tokens:
            subscriber_id = self.read_verp(token)
            if subscriber_id is None:
                log.info("VERP token %r is not genuine; ignored", token[:40])
                continue
            subscriber = await self.store.get(subscriber_id)
            return subscriber_id, subscriber.email if subscriber is not None else None
        return None, None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
