"""A digest through the mail engine: each reader gets one message, personalised, once."""

from __future__ import annotations

import mailbox
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from broadcaster.mail.verp import make_token
from broadcaster.outbox.workers import Workers
from broadcaster.workspace.models import Frequency
from tests.publishing.digests.conftest import HCM, SECRET, World, text_of

COVID_TITLE = "Biện pháp phòng, chống dịch COVID-19 tại Bộ phận Một cửa"


def received(world: World) -> dict[str, list[EmailMessage]]:
    """What the citizens channel's Maildir holds, by recipient address."""
    box = mailbox.Maildir(str(world.settings.root / "var" / "mail"), create=False)
    by_address: dict[str, list[EmailMessage]] = {}
    for key in box.iterkeys():
        message = message_from_bytes(box.get_bytes(key), policy=policy.default)
        assert isinstance(message, EmailMessage)
        by_address.setdefault(str(message["To"]), []).append(message)
    box.close()
    return by_address


async def test_immediate_readers_get_each_publication_digest_readers_one_digest(
    world: World,
) -> None:
    world.at(datetime(2021, 7, 11, 16, tzinfo=HCM))
    await world.subscriber("ngay@mail.example.vn", ["covid-19-measures"], Frequency.IMMEDIATE)
    daily = await world.subscriber(
        "tong.hop@mail.example.vn", ["covid-19-measures", "support-contacts"], Frequency.DAILY
    )
    world.at(datetime(2021, 7, 12, 8, tzinfo=HCM))
    await world.publish("one-stop-covid-measures")
    await world.publish("support-contacts")
    await world.fire("citizens-daily-digest", datetime(2021, 7, 12, 18, tzinfo=HCM))
    workers = Workers(world.outbox, world.content, world.publisher.channels)

    await workers.run_until_idle()
    await workers.run_until_idle()  # nothing is sent twice

    mail = received(world)
    assert sorted(mail) == ["ngay@mail.example.vn", "tong.hop@mail.example.vn"]
    assert [str(m["Subject"]) for m in mail["ngay@mail.example.vn"]] == [f"[KHẨN] {COVID_TITLE}"]
    [digest] = mail["tong.hop@mail.example.vn"]
    assert str(digest["Subject"]) == "Thông báo mới trong ngày 12 tháng 7, 2021"
    body = text_of(digest)
    assert COVID_TITLE in body
    assert "Đầu mối hỗ trợ thủ tục hành chính" in body
    assert "PREVIEW" not in digest.as_string()
    assert digest["Return-Path"] == f"<bounces+{make_token(SECRET, daily)}@example.gov.vn>"
    assert "/unsubscribe/" in digest["List-Unsubscribe"]
