"""The optional built-in bounce receiver: an SMTP server (aiosmtpd) for the VERP domain.

Point the VERP domain's MX (or the relay's transport map) at `BROADCASTER_BOUNCE_LISTEN`.
Each message goes through the same `BounceProcessor` as `bounces process`; one the
processor does not act on is kept in `var/bounces/` (a Maildir) for a person to read.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from broadcaster.bounces.process import BounceProcessor
from broadcaster.bounces.verp import SubscriberReader, subscriber_reader
from broadcaster.settings import Settings, SettingsError
from broadcaster.subscribers.api import SubscriberStore

log = logging.getLogger(__name__)

BOUNCE_LISTEN_ENV = "BROADCASTER_BOUNCE_LISTEN"
LEFT_ALONE_FOLDER = Path("var") / "bounces"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a bounce quotes at most the original message


class _Handler:
    """aiosmtpd handler: accept mail for the VERP domains, process it, answer 250 or 451."""

    def __init__(
        self, processor: BounceProcessor, domains: Collection[str], left_alone: Path | None
    ) -> None:
        self.processor = processor
        self.domains = {d.lower() for d in domains}
        self.left_alone = left_alone

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if self.domains and domain not in self.domains:
            return "550 5.7.1 this server only takes bounces for its own domain"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        name = f"smtp from {peer} <{envelope.mail_from or ''}>"
        try:
            result = await self.processor.process(raw, name, envelope.rcpt_tos)
        except Exception:
            log.exception("bounce from %s could not be recorded; the sender will retry", peer)
            return "451 4.3.0 cannot record this bounce now, try again later"
        log.info("bounce receiver: %s", result.line())
        if not result.outcome.processed and self.left_alone is not None:
            try:
                await asyncio.to_thread(_keep, self.left_alone, raw)
            except OSError as exc:
                log.error("cannot keep %s in %s: %s", name, self.left_alone, exc)
                return "451 4.3.0 cannot store this message now, try again later"
        return "250 2.0.0 OK"


def _keep(folder: Path, raw: bytes) -> None:
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(folder), create=False)
    try:
        box.add(raw)
    finally:
        box.close()


@dataclass(frozen=True)
class BounceReceiver:
    """A running receiver: where it listens."""

    host: str
    port: int


def listen_address(value: str) -> tuple[str, int]:
    """`host:port` split; a SettingsError names the variable when it is not one."""
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise SettingsError(f"{BOUNCE_LISTEN_ENV}={value!r}: write HOST:PORT, like 127.0.0.1:2525")
    return host.strip("[]") or "127.0.0.1", number


@asynccontextmanager
async def bounce_receiver(
    settings: Settings,
    store: SubscriberStore,
    *,
    domains: Collection[str] = (),
    read_verp: SubscriberReader | None = None,
) -> AsyncIterator[BounceReceiver | None]:
    """Run the receiver while inside, when BROADCASTER_BOUNCE_LISTEN is set (else yield None).

    `domains`: the VERP domains to accept mail for (default: any). `serve` enters this
    once, next to the workers, with the same subscriber store.
    """
    listen = settings.environ.get(BOUNCE_LISTEN_ENV, "").strip()
    if not listen:
        yield None
        return
    host, port = listen_address(listen)
    if read_verp is None:
        read_verp = subscriber_reader(settings.secret_key)
    handler = _Handler(
        BounceProcessor(store, read_verp), domains, settings.root / LEFT_ALONE_FOLDER
    )
    hostname = next(iter(domains), "localhost")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname, data_size_limit=MAX_MESSAGE_BYTES, loop=loop),
        host,
        port,
    )
    bound = server.sockets[0].getsockname()
    log.info("bounce receiver listening on %s:%s", bound[0], bound[1])
    try:
        yield BounceReceiver(str(bound[0]), int(bound[1]))
    finally:
        server.close()
        await server.wait_closed()
