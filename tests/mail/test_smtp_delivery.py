"""List mail end to end: publish, fan out through the workers, read it off a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
import unicodedata
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from broadcaster.channels import postboxes
from broadcaster.channels.email_subscribers import SubscriberEmailChannel
from broadcaster.mail.notices import Notices
from broadcaster.mail.verp import read_token
from broadcaster.outbox.tables import DeliveryStatus
from broadcaster.text.strings import text
from tests.conftest import FIXTURE
from tests.mail.conftest import CAMPAIGN, Handler, Rig, make_rig, pipelined_sends, write_channel


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def front_matter(root: Path, locale: str) -> dict[str, str]:
    source = (root / "campaigns" / CAMPAIGN / f"{locale}.md").read_text(encoding="utf-8")
    data: dict[str, str] = yaml.safe_load(source.split("---\n", 2)[1])
    return {k: unicodedata.normalize("NFC", v) for k, v in data.items()}


def subject(root: Path, locale: str, reader_locale: str | None = None) -> str:
    """The subject a reader sees: the title, after the urgent marker for urgent campaigns."""
    meta = yaml.safe_load((root / "campaigns" / CAMPAIGN / "campaign.yaml").read_text("utf-8"))
    title = front_matter(root, locale)["title"]
    if meta.get("priority") == "urgent":
        return f"{text('urgent_subject', reader_locale or locale)} {title}"
    return title


async def statuses(rig: Rig, publication_id: int) -> dict[DeliveryStatus, int]:
    progress = await rig.outbox.progress(publication_id)
    return dict(progress.get("citizens", {}))


@pytest.fixture(params=[False, True], ids=["aiosmtplib", "pipelined"])
def pipelining(request: pytest.FixtureRequest, handler: Handler) -> bool:
    handler.pipelining = request.param
    return bool(request.param)


async def test_vietnamese_list_mail_arrives_byte_exact_with_list_headers(
    smtp_rig: Rig, handler: Handler, pipelining: bool
) -> None:
    sid = await smtp_rig.subscribe("an.nguyen@example.vn")
    publication_id = await smtp_rig.publish()
    assert await smtp_rig.workers.run_until_idle() == 1

    (received,) = handler.delivered()
    assert received.recipients == ["an.nguyen@example.vn"]
    assert (
        read_token(smtp_rig.settings.secret_key, received.sender.split("+", 1)[1].split("@")[0])
        == sid
    )
    message = parse(received.data)
    title = front_matter(smtp_rig.root, "vi")["title"]
    assert message["Subject"] == subject(smtp_rig.root, "vi")
    assert re.search(rb"^Subject: =\?utf-8\?", received.data, re.M | re.I)
    assert message["To"] == "an.nguyen@example.vn"
    assert message.get_content_type() == "multipart/alternative"
    # The plain text is exactly what the channel rendered, with this subscriber's links.
    rendition = await smtp_rig.content.rendition(publication_id, "citizens", "vi")
    assert rendition is not None
    expected = part_text(parse(rendition), "plain")
    subscriber = await smtp_rig.store.get(sid)
    assert subscriber is not None
    version = subscriber.token_version
    # The tokens carry a timestamp: read them off the message, then check what they say.
    plain = part_text(message, "plain")
    unsubscribe = re.findall(r"/unsubscribe/([\w.-]+)", plain)[0]
    preferences = re.findall(r"/preferences/([\w.-]+)", plain)[0]
    assert smtp_rig.tokens.read(unsubscribe, "unsubscribe") == (sid, version)
    assert smtp_rig.tokens.read(preferences, "preferences") == (sid, version)
    assert smtp_rig.tokens.read(unsubscribe, "preferences") is None
    expected = expected.replace("PREVIEW-UNSUBSCRIBE-TOKEN", unsubscribe)
    expected = expected.replace("PREVIEW-PREFERENCES-TOKEN", preferences)
    assert plain == expected
    assert front_matter(smtp_rig.root, "vi")["summary"] in plain
    assert title in part_text(message, "html")
    links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert links[0] == f"https://tb.example.gov.vn/unsubscribe/{unsubscribe}"
    assert links[1].startswith("mailto:unsubscribe@example.gov.vn")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"]
    delivery = await smtp_rig.outbox.delivery(1)
    assert delivery is not None
    assert message["Message-ID"] == f"<{delivery.dedup_key}@example.gov.vn>"
    assert await statuses(smtp_rig, publication_id) == {DeliveryStatus.DELIVERED: 1}


async def test_451_then_success_delivers_once_with_the_same_message_id(
    smtp_rig: Rig, handler: Handler, pipelining: bool
) -> None:
    await smtp_rig.subscribe("binh@example.vn")
    handler.rcpt_replies["binh@example.vn"] = ["451 4.7.1 try again later"]
    handler.data_replies["binh@example.vn"] = ["451 4.3.0 busy"]
    publication_id = await smtp_rig.publish()
    await smtp_rig.workers.run_until_idle()

    (received,) = handler.delivered()
    delivery = await smtp_rig.outbox.delivery(1)
    assert delivery is not None
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert parse(received.data)["Message-ID"] == f"<{delivery.dedup_key}@example.gov.vn>"
    attempts = await smtp_rig.outbox.attempts(1)
    assert [a.outcome for a in attempts] == ["temporary-failure", "temporary-failure", "delivered"]
    assert "451" in (attempts[0].error or "")
    assert await statuses(smtp_rig, publication_id) == {DeliveryStatus.DELIVERED: 1}


async def test_550_is_recorded_as_permanent_failure(
    smtp_rig: Rig, handler: Handler, pipelining: bool
) -> None:
    await smtp_rig.subscribe("khong-ton-tai@example.vn")
    await smtp_rig.subscribe("chi@example.vn")
    handler.rcpt_replies["khong-ton-tai@example.vn"] = ["550 5.1.1 no such user"]
    publication_id = await smtp_rig.publish()
    await smtp_rig.workers.run_until_idle()

    assert [r.recipients for r in handler.delivered()] == [["chi@example.vn"]]
    counts = await statuses(smtp_rig, publication_id)
    assert counts == {DeliveryStatus.PERMANENT_FAILURE: 1, DeliveryStatus.DELIVERED: 1}
    failed = await smtp_rig.outbox.delivery(1)
    assert failed is not None
    assert "550" in (failed.last_error or "")
    assert failed.attempts == 1


async def test_connection_dropped_after_data_is_retried_with_the_same_message_id(
    smtp_rig: Rig, handler: Handler, pipelining: bool
) -> None:
    await smtp_rig.subscribe("dung@example.vn")
    handler.drop_after_data.add("dung@example.vn")
    publication_id = await smtp_rig.publish()
    await smtp_rig.workers.run_until_idle()

    dropped = [r for r in handler.received if r.dropped]
    assert len(dropped) == 1
    (received,) = handler.delivered()
    assert parse(received.data)["Message-ID"] == parse(dropped[0].data)["Message-ID"]
    attempts = await smtp_rig.outbox.attempts(1)
    assert [a.outcome for a in attempts] == ["temporary-failure", "delivered"]
    assert await statuses(smtp_rig, publication_id) == {DeliveryStatus.DELIVERED: 1}


async def test_the_pool_reuses_its_connections(
    smtp_rig: Rig, handler: Handler, pipelining: bool
) -> None:
    for number in range(30):
        await smtp_rig.subscribe(f"nguoi{number}@example.vn")
    await smtp_rig.publish()
    await smtp_rig.workers.run_until_idle()
    assert len(handler.delivered()) == 30
    assert len({parse(r.data)["Message-ID"] for r in handler.delivered()}) == 30
    # The channel file keeps 8 connections; 30 messages must not open 30.
    assert 1 <= len(handler.sessions) <= 8
    assert pipelined_sends(smtp_rig.channels["citizens"]) == pipelining


async def test_rate_limit_spaces_messages(
    tmp_path: Path, smtp_server: Controller, handler: Handler
) -> None:
    from tests.conftest import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    source = (root / "channels" / "citizens.yaml").read_text(encoding="utf-8")
    source = source.replace("rate_per_second: 0", "rate_per_second: 20").replace(
        "connections: 8", "connections: 4"
    )
    (root / "channels" / "citizens.yaml").write_text(source, encoding="utf-8")
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp_server.port)}
    rig = await make_rig(root, env | {"BROADCASTER_SECRET_KEY": "k" * 40})
    try:
        for number in range(11):
            await rig.subscribe(f"r{number}@example.vn")
        await rig.publish()
        started = time.monotonic()
        await rig.workers.run_until_idle()
        elapsed = time.monotonic() - started
    finally:
        await rig.close()
    assert len(handler.delivered()) == 11
    assert elapsed >= 10 / 20 * 0.9  # 11 messages at 20/s: at least ~0.5 s


async def test_a_rate_limited_list_is_claimed_in_batches_its_lease_covers(
    tmp_path: Path, smtp_server: Controller, handler: Handler
) -> None:
    """At 20 messages a second and a 2-second lease, a batch of more than 20 could not be
    sent before its lease ran out (and would be claimed again by another worker)."""
    from datetime import timedelta

    from tests.conftest import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    path = root / "channels" / "citizens.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("rate_per_second: 0", "rate_per_second: 20"),
        encoding="utf-8",
    )
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp_server.port)}
    lease = timedelta(seconds=2)
    rig = await make_rig(root, env | {"BROADCASTER_SECRET_KEY": "k" * 40}, lease=lease)
    claimed: list[int] = []
    claim = rig.outbox.claim

    async def noted(*args: Any, **kwargs: Any) -> Any:
        batch = await claim(*args, **kwargs)
        claimed.append(len(batch))
        return batch

    rig.outbox.claim = noted  # type: ignore[method-assign]
    try:
        for number in range(45):
            await rig.subscribe(f"r{number}@example.vn")
        publication_id = await rig.publish()
        await rig.workers.run_until_idle()
        assert await statuses(rig, publication_id) == {DeliveryStatus.DELIVERED: 45}
    finally:
        await rig.close()
    assert sorted(r.recipients[0] for r in handler.delivered()) == sorted(
        f"r{number}@example.vn" for number in range(45)
    )
    assert [size for size in claimed if size] == [20, 20, 5]


async def test_unsubscribed_after_queueing_is_not_sent(smtp_rig: Rig, handler: Handler) -> None:
    keeper = await smtp_rig.subscribe("o-lai@example.vn")
    leaver = await smtp_rig.subscribe("roi-di@example.vn")
    publication_id = await smtp_rig.publish()
    # A worker has claimed both (as in a large fan-out) when the one-click unsubscribe lands.
    claimed = await smtp_rig.outbox.claim("w1", 10, smtp_rig.workers.settings.lease)
    assert {c.recipient for c in claimed} == {str(keeper), str(leaver)}
    assert await smtp_rig.store.unsubscribe(leaver, ip=None, how="one-click")
    await smtp_rig.workers._deliver_many("w1", claimed)

    assert [r.recipients for r in handler.delivered()] == [["o-lai@example.vn"]]
    counts = await statuses(smtp_rig, publication_id)
    assert counts == {DeliveryStatus.DELIVERED: 1, DeliveryStatus.CANCELLED: 1}


async def test_locale_fallback_says_so_in_one_line(
    tmp_path: Path, smtp_server: Controller, handler: Handler
) -> None:
    from tests.conftest import copy_workspace

    root = copy_workspace(tmp_path / "ws")
    (root / "campaigns" / CAMPAIGN / "en.md").unlink()  # the campaign is only in Vietnamese
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp_server.port)}
    rig = await make_rig(root, env | {"BROADCASTER_SECRET_KEY": "k" * 40})
    try:
        await rig.subscribe("reader@example.com", locale="en")
        await rig.publish()
        await rig.workers.run_until_idle()
    finally:
        await rig.close()
    (received,) = handler.delivered()
    message = parse(received.data)
    plain = part_text(message, "plain")
    notice = text("fallback_notice", "en")
    assert plain.splitlines()[0] == notice
    assert notice in part_text(message, "html")
    assert message["Subject"] == subject(root, "vi", "en")
    assert message["Content-Language"] == "vi"


def test_channel_file_still_matches_fixture() -> None:
    # The tests above edit copies of this file by text; fail loudly if its lines change.
    source = (FIXTURE / "channels" / "citizens.yaml").read_text(encoding="utf-8")
    assert "rate_per_second: 0" in source
    assert "connections: 8" in source
    assert write_channel is not None


async def test_confirmation_mail_goes_out_through_the_channel(
    smtp_rig: Rig, handler: Handler
) -> None:
    assert isinstance(smtp_rig.channels["citizens"], SubscriberEmailChannel)
    notices = Notices(lambda: postboxes(smtp_rig.channels))
    url = "https://tb.example.gov.vn/confirm/TOKEN123"
    await notices.send_confirmation(7, "moi@example.vn", "vi", url)
    (received,) = handler.delivered()
    assert received.recipients == ["moi@example.vn"]
    message = parse(received.data)
    assert message["Subject"] == "Xác nhận đăng ký nhận thông báo"
    body = message.get_content()
    assert isinstance(body, str)
    assert url in body
    assert "7 ngày" in body


async def test_running_workers_fan_out_in_batches(smtp_rig: Rig, handler: Handler) -> None:
    for number in range(25):
        await smtp_rig.subscribe(f"lo{number}@example.vn")
    smtp_rig.publisher.on_enqueued = smtp_rig.workers.wake
    smtp_rig.workers.start()
    try:
        publication_id = await smtp_rig.publish()
        for _ in range(200):
            if (await statuses(smtp_rig, publication_id)).get(DeliveryStatus.DELIVERED) == 25:
                break
            await asyncio.sleep(0.05)
    finally:
        await smtp_rig.workers.stop(5)
    assert await statuses(smtp_rig, publication_id) == {DeliveryStatus.DELIVERED: 25}
    assert len(handler.delivered()) == 25
    # The bulk loops took them, in batches, not the one-at-a-time loops.
    workers = {a.worker for d in range(1, 26) for a in await smtp_rig.outbox.attempts(d)}
    assert all(":bulk" in worker for worker in workers)


async def test_closing_the_pool_settles_messages_in_flight(
    smtp_server: Controller, handler: Handler
) -> None:
    from broadcaster.channels.base import RetryLater
    from broadcaster.mail.smtp import Outgoing, SmtpOptions, SmtpPool

    handler.pipelining = True
    handler.stall_data = True
    pool = SmtpPool(SmtpOptions(port=smtp_server.port), 2)
    message = b"From: a@example.gov.vn\r\nTo: b@example.vn\r\n\r\nhi\r\n"
    futures = [pool.submit(Outgoing("a@example.gov.vn", "b@example.vn", message)) for _ in range(5)]
    await asyncio.sleep(0.5)  # the first messages are on the wire, waiting for their replies
    await pool.close()
    # A batch still running on a channel a reload replaced: its later messages come back
    # to be tried again, not as an error that fails them for good.
    futures.append(pool.submit(Outgoing("a@example.gov.vn", "c@example.vn", message)))
    outcomes = [await f for f in futures]
    assert [str(o) for o in outcomes] == ["the SMTP pool was closed"] * 6
    assert all(isinstance(o, RetryLater) for o in outcomes)


async def test_an_address_that_needs_smtputf8_fails_permanently_with_the_reason(
    smtp_rig: Rig, handler: Handler
) -> None:
    """Such addresses are refused when subscribing; one already listed is not sent."""
    from sqlalchemy import update

    from broadcaster.store.engine import write_transaction
    from broadcaster.subscribers.tables import subscribers

    sid = await smtp_rig.subscribe("an.ascii@example.vn")
    await smtp_rig.subscribe("binh@example.vn")
    async with write_transaction(smtp_rig.engine) as conn:
        await conn.execute(
            update(subscribers).where(subscribers.c.id == sid).values(email="ân@example.vn")
        )
    publication_id = await smtp_rig.publish()
    await smtp_rig.workers.run_until_idle()

    assert [r.recipients for r in handler.delivered()] == [["binh@example.vn"]]
    counts = await statuses(smtp_rig, publication_id)
    assert counts == {DeliveryStatus.PERMANENT_FAILURE: 1, DeliveryStatus.DELIVERED: 1}
    failed = await smtp_rig.outbox.delivery(1)
    assert failed is not None
    assert "SMTPUTF8" in (failed.last_error or "")
