"""The mail engine's fan-out: a batch of claimed deliveries becomes sent, failed or withdrawn.

Per batch: one `SubscriberStore.sendable` query right before sending (an unsubscribe
withdraws messages already queued), then per recipient only a bytes join of the
pre-built template with the address, two tokens and the Message-ID, a DKIM signature
when configured (for large batches in signing processes, in chunks, while the event
loop sends the chunks before: signing.py), and a hand-off to the transport once the
outbox gives the message a turn (outbox/recording.py): the SMTP pool's connections send
concurrently; the Maildir gets a few messages per thread hop. Each outcome is reported
as soon as it is known, so the outbox records the batch as it goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster.mail.compose import MessageTemplate, readdress
from broadcaster.mail.dkim import DkimSigner, PreparedSignature
from broadcaster.mail.maildir import to_maildir_many, with_return_path
from broadcaster.mail.signing import SigningPool
from broadcaster.mail.smtp import Outgoing, SmtpPool
from broadcaster.mail.smtp import SmtpOutcome as SendOutcome
from broadcaster.mail.verp import Verp
from broadcaster.outbox.outcomes import DeliveryRejected, RetryLater, Withdrawn

if TYPE_CHECKING:
    from broadcaster.outbox.jobs import DeliveryJob, Progress
    from broadcaster.subscribers.api import Recipient, SubscriberStore, Tokens

log = logging.getLogger(__name__)

CHUNK = 64  # messages built (and signed) per step, or per signing request
MAILDIR_STEP = 16  # messages written to the Maildir per thread hop
POOL_AT_LEAST = 2 * CHUNK  # smaller batches are signed here; larger ones in processes
Values = tuple[bytes, bytes, bytes, bytes]  # a recipient's slot values (see compose.Slot)
TEMPLATES_KEPT = 16
NEEDS_SMTPUTF8 = (
    "the address has non-ASCII characters and would need SMTPUTF8, which this list does "
    "not use; the subscriber must give an ASCII address"
)


@dataclass(frozen=True)
class _Prepared:
    raw: bytes  # the rendition the template was cut from (what signing processes get)
    template: MessageTemplate
    signature: PreparedSignature | None


@dataclass
class Transport:
    """Where messages go: a Maildir folder, or an SMTP pool."""

    maildir: Path | None = None
    pool: SmtpPool | None = None


class MailSender:
    """Sends one email channel's deliveries (list mail or desk mail)."""

    def __init__(
        self,
        *,
        domain: str,
        sender: str,
        list_mail: bool,
        transport: Transport,
        signer: DkimSigner | None,
        subscribers: SubscriberStore | None,
        tokens: Tokens | None,
        secret: Callable[[], bytes],
    ) -> None:
        self.domain = domain
        self.sender = sender
        self.list_mail = list_mail
        self.transport = transport
        self.signer = signer
        self.subscribers = subscribers
        self.tokens = tokens
        self._secret = secret
        self._verp: Verp | None = None
        self._templates: OrderedDict[tuple[int, str], _Prepared] = OrderedDict()
        self._pool: SigningPool | None = None

    async def close(self) -> None:
        """Close the SMTP pool and the signing processes (for good: a batch still running
        gets RetryLater from the pool and signs in this process, opening nothing new)."""
        if self.transport.pool is not None:
            await self.transport.pool.close()
        if self._pool is not None:
            await self._pool.close()

    async def deliver_many(self, jobs: Sequence[DeliveryJob], progress: Progress) -> None:
        """Send each job's message, reporting each outcome to `progress` as it comes."""
        if self.list_mail:
            plan = await self._list_plan(jobs, progress)
            chunks = self._build(plan)
        else:
            chunks = self._desk_work(jobs, progress)
        try:
            if self.transport.pool is not None:
                await self._send_pooled(self.transport.pool, chunks, progress)
            else:
                await self._write_maildir(chunks, progress)
        finally:
            await chunks.aclose()  # stops the signing of chunks that will not be sent

    async def _send_pooled(
        self,
        pool: SmtpPool,
        chunks: AsyncGenerator[list[tuple[int, Outgoing]]],
        progress: Progress,
    ) -> None:
        """Each message goes to the connections once it has a turn (see outbox/recording.py);
        its outcome is reported the moment the relay answers."""
        sent: list[asyncio.Future[SendOutcome]] = []

        def reporter(index: int) -> Callable[[asyncio.Future[SendOutcome]], None]:
            return lambda future: progress.report(index, future.result())

        async for chunk in chunks:
            for index, item in chunk:
                if not await progress.admit(index):
                    await asyncio.gather(*sent)
                    return
                future = pool.submit(item)
                future.add_done_callback(reporter(index))
                sent.append(future)
            sent = [future for future in sent if not future.done()]
        await asyncio.gather(*sent)

    async def _write_maildir(
        self, chunks: AsyncGenerator[list[tuple[int, Outgoing]]], progress: Progress
    ) -> None:
        """A few messages per thread hop, each hop with its turns."""
        folder = self.transport.maildir
        assert folder is not None
        async for chunk in chunks:
            for start in range(0, len(chunk), MAILDIR_STEP):
                step = chunk[start : start + MAILDIR_STEP]
                if not await progress.admit(*(index for index, _ in step)):
                    return
                messages = [with_return_path(item.plain(), item.sender) for _, item in step]
                written = await to_maildir_many(folder, messages)
                for (index, _), outcome in zip(step, written, strict=True):
                    progress.report(index, outcome)

    # -- building ------------------------------------------------------------------------

    async def _prepared(self, job: DeliveryJob) -> _Prepared:
        d = job.delivery
        key = (d.publication_id, d.locale)
        prepared = self._templates.get(key)
        if prepared is None:
            raw = await job.rendition()
            template = MessageTemplate.parse(raw)
            if not template.personal:
                raise DeliveryRejected(f"the {d.locale} rendition is not a list-mail template")
            signature = self.signer.prepare(template) if self.signer else None
            prepared = _Prepared(raw, template, signature)
            self._templates[key] = prepared
            while len(self._templates) > TEMPLATES_KEPT:
                self._templates.popitem(last=False)
        else:
            self._templates.move_to_end(key)
        return prepared

    async def _list_plan(
        self, jobs: Sequence[DeliveryJob], progress: Progress
    ) -> list[tuple[int, DeliveryJob, _Prepared, Recipient]]:
        if self.subscribers is None or self.tokens is None:
            for index in range(len(jobs)):
                progress.report(index, RetryLater("no subscriber store is configured"))
            return []
        ids: dict[int, int] = {}
        for index, job in enumerate(jobs):
            recipient = job.delivery.recipient
            if recipient.isdigit():
                ids[index] = int(recipient)
            else:
                progress.report(index, DeliveryRejected(f"{recipient!r} is not a subscriber id"))
        sendable = await self.subscribers.sendable(sorted(set(ids.values())))
        plan: list[tuple[int, DeliveryJob, _Prepared, Recipient]] = []
        for index, subscriber_id in ids.items():
            found = sendable.get(subscriber_id)
            if found is None:
                progress.report(index, Withdrawn("unsubscribed or suppressed since it was queued"))
                continue
            if not found.email.isascii():  # kept before addresses were stored ASCII-only
                progress.report(index, DeliveryRejected(NEEDS_SMTPUTF8))
                continue
            try:
                prepared = await self._prepared(jobs[index])
            except DeliveryRejected as exc:
                progress.report(index, exc)
                continue
            plan.append((index, jobs[index], prepared, found))
        if self._verp is None and plan:
            self._verp = Verp(self._secret(), self.domain)
        return plan

    async def _build(
        self, plan: list[tuple[int, DeliveryJob, _Prepared, Recipient]]
    ) -> AsyncGenerator[list[tuple[int, Outgoing]]]:
        signing = any(p.signature is not None for _, _, p, _ in plan)
        if not signing or len(plan) < POOL_AT_LEAST:
            for start in range(0, len(plan), CHUNK):
                chunk = plan[start : start + CHUNK]
                values = self._values(chunk)
                prefixes = [
                    p.signature.header(v) if p.signature is not None else b""
                    for (_, _, p, _), v in zip(chunk, values, strict=True)
                ]
                yield self._assemble(chunk, values, prefixes)
                await asyncio.sleep(0)  # let the connections send what is built
            return
        assert self.signer is not None
        if self._pool is None:
            self._pool = SigningPool(self.signer)
        # Keep every signing process busy: the next chunks are signed while this one is
        # handed to the connections (in order).
        depth = 2 * self._pool.processes
        in_flight: deque[tuple[list[Any], list[Values], asyncio.Task[list[bytes]]]] = deque()
        try:
            for start in range(0, len(plan), CHUNK):
                chunk = plan[start : start + CHUNK]
                values = self._values(chunk)
                raws: dict[bytes, int] = {}
                items = [
                    (raws.setdefault(p.raw, len(raws)), v)
                    for (_, _, p, _), v in zip(chunk, values, strict=True)
                ]
                task = asyncio.ensure_future(self._pool.sign(list(raws), items))
                in_flight.append((chunk, values, task))
                if len(in_flight) >= depth:
                    chunk, values, task = in_flight.popleft()
                    yield self._assemble(chunk, values, await task)
            while in_flight:
                chunk, values, task = in_flight.popleft()
                yield self._assemble(chunk, values, await task)
        finally:
            for _, _, task in in_flight:  # the batch failed or was cancelled midway
                task.cancel()

    def _values(self, plan: list[tuple[int, DeliveryJob, _Prepared, Recipient]]) -> list[Values]:
        """Each recipient's slot values: address, Message-ID, the two tokens (see Slot)."""
        assert self.tokens is not None
        make, domain = self.tokens.make, self.domain
        return [
            (
                recipient.email.encode(),
                f"{job.delivery.dedup_key}@{domain}".encode(),
                make("unsubscribe", recipient.id, recipient.token_version).encode(),
                make("preferences", recipient.id, recipient.token_version).encode(),
            )
            for _, job, _, recipient in plan
        ]

    def _assemble(
        self,
        plan: list[tuple[int, DeliveryJob, _Prepared, Recipient]],
        values: list[Values],
        prefixes: Sequence[bytes],
    ) -> list[tuple[int, Outgoing]]:
        """The messages: each template filled with its values, after its DKIM-Signature."""
        assert self._verp is not None
        verp = self._verp
        smtp = self.transport.pool is not None
        built: list[tuple[int, Outgoing]] = []
        for (index, _, prepared, recipient), value, prefix in zip(
            plan, values, prefixes, strict=True
        ):
            template = prepared.template
            if smtp:
                outgoing = Outgoing(
                    verp.address(recipient.id),
                    recipient.email,
                    None,
                    template.fill_stuffed(prefix, value),
                )
            else:
                outgoing = Outgoing(
                    verp.address(recipient.id), recipient.email, prefix + template.fill(value)
                )
            built.append((index, outgoing))
        return built

    async def _desk_work(
        self, jobs: Sequence[DeliveryJob], progress: Progress
    ) -> AsyncGenerator[list[tuple[int, Outgoing]]]:
        work: list[tuple[int, Outgoing]] = []
        for index, job in enumerate(jobs):
            d = job.delivery
            try:
                message = readdress(
                    await job.rendition(), d.recipient, f"{d.dedup_key}@{self.domain}"
                )
            except DeliveryRejected as exc:
                progress.report(index, exc)
                continue
            if b"\r\n" not in message:
                message = message.replace(b"\n", b"\r\n")
            if self.signer is not None:
                message = self.signer.sign(message) + message
            work.append((index, Outgoing(self.sender, d.recipient, message)))
        yield work

    async def send_one(self, item: Outgoing) -> str:
        """Send a single message (confirmations); returns a receipt or raises."""
        if self.transport.pool is not None:
            outcome = await self.transport.pool.send_one(item)
        else:
            assert self.transport.maildir is not None
            message = with_return_path(item.plain(), item.sender)
            (outcome,) = await to_maildir_many(self.transport.maildir, [message])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
