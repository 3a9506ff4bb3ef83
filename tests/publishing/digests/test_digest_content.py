"""Daily digest content: the right publications, to the right subscribers, once."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from broadcaster.outbox.tables import PublicationSource
from broadcaster.workspace.models import Frequency
from tests.publishing.digests.conftest import HCM, World, text_of

CONFIRMED = datetime(2021, 7, 11, 16, tzinfo=HCM)
MORNING = datetime(2021, 7, 12, 8, tzinfo=HCM)
EVENING = datetime(2021, 7, 12, 18, tzinfo=HCM)  # citizens-daily-digest: "0 18 * * *"

COVID_TITLE = "Biện pháp phòng, chống dịch COVID-19 tại Bộ phận Một cửa"
CONTACTS_EN = "Support focal points for administrative procedures and public services"
CONTACTS_TOPIC = "Đầu mối hỗ trợ thủ tục hành chính"


async def test_a_daily_digest_lists_only_the_subscribers_topics_once(world: World) -> None:
    world.at(CONFIRMED)
    daily = await world.subscriber(
        "hang.ngay@mail.example.vn", ["covid-19-measures"], Frequency.DAILY
    )
    weekly = await world.subscriber(
        "hang.tuan@mail.example.vn", ["covid-19-measures", "support-contacts"], Frequency.WEEKLY
    )
    immediate = await world.subscriber(
        "ngay.lap.tuc@mail.example.vn", ["covid-19-measures"], Frequency.IMMEDIATE
    )
    world.at(MORNING)
    await world.publish("one-stop-covid-measures")  # covid-19-measures, one-stop-counters
    await world.publish("support-contacts")  # support-contacts, online-services

    fired = await world.fire("citizens-daily-digest", EVENING)

    assert fired.created
    assert fired.deliveries == 1
    sent = await world.digests_sent(fired.publication_id)
    assert list(sent) == [daily]  # not the weekly one, not the immediate one
    message = sent[daily]
    body = text_of(message)
    assert "Thông báo mới trong ngày 12 tháng 7, 2021" in str(message["Subject"])
    assert COVID_TITLE in body
    assert "https://thongbao.example.gov.vn/vi/one-stop-covid-measures/" in body
    assert CONTACTS_TOPIC not in body
    assert "support-contacts/" not in body
    assert body.count(COVID_TITLE) == 1  # in two of the campaign's topics, listed once
    assert_list_mail(message)
    for subscriber in (daily, weekly, immediate):
        state = await world.store.get(subscriber)
        assert state is not None
        assert state.last_digest_at == (EVENING if subscriber == daily else None)

    # A second firing the same day: nothing new since the first, so no digest at all, and
    # no empty publication for `status` to list; the firing is recorded all the same.
    later = datetime(2021, 7, 12, 21, tzinfo=HCM)
    world.at(later)
    assert await world.publisher.fire_digest(world.schedule("citizens-daily-digest"), later) is None
    assert await world.publication_ids("citizens-daily-digest") == [fired.publication_id]
    assert await world.outbox.last_fire_time("citizens-daily-digest") == later


async def test_the_next_digest_lists_only_what_came_after_the_last(world: World) -> None:
    world.at(CONFIRMED)
    daily = await world.subscriber(
        "hang.ngay@mail.example.vn", ["covid-19-measures", "support-contacts"], Frequency.DAILY
    )
    world.at(MORNING)
    await world.publish("one-stop-covid-measures")
    await world.fire("citizens-daily-digest", EVENING)
    world.at(datetime(2021, 7, 13, 9, tzinfo=HCM))
    await world.publish("support-contacts")

    fired = await world.fire("citizens-daily-digest", datetime(2021, 7, 13, 18, tzinfo=HCM))

    body = text_of((await world.digests_sent(fired.publication_id))[daily])
    assert CONTACTS_TOPIC in body
    assert COVID_TITLE not in body


async def test_a_digest_is_in_the_subscribers_language_with_the_fallback_noted(
    world: World,
) -> None:
    world.at(CONFIRMED)
    english = await world.subscriber(
        "reader@mail.example.vn",
        ["covid-19-measures", "support-contacts"],
        Frequency.DAILY,
        locale="en",
    )
    vietnamese = await world.subscriber(
        "doc.gia@mail.example.vn", ["covid-19-measures"], Frequency.DAILY
    )
    world.at(MORNING)
    await world.publish("one-stop-covid-measures")
    await world.publish("support-contacts")

    fired = await world.fire("citizens-daily-digest", EVENING)

    sent = await world.digests_sent(fired.publication_id)
    body = text_of(sent[english])
    assert str(sent[english]["Subject"]) == "New announcements on July 12, 2021"
    assert sent[english]["Content-Language"] == "en"
    assert "== COVID-19 measures ==" in body
    assert "== Help with administrative procedures ==" in body
    assert CONTACTS_EN in body
    assert "https://thongbao.example.gov.vn/en/support-contacts/" in body
    assert "You receive this email because you subscribed" in body
    assert sent[vietnamese]["Content-Language"] == "vi"


async def test_a_campaign_missing_the_readers_language_is_listed_in_vietnamese(
    world: World,
) -> None:
    (world.workspace.root / "campaigns" / "one-stop-covid-measures" / "en.md").unlink()
    reloaded = World.reload(world)
    reloaded.at(CONFIRMED)
    english = await reloaded.subscriber(
        "reader@mail.example.vn", ["covid-19-measures"], Frequency.DAILY, locale="en"
    )
    reloaded.at(MORNING)
    await reloaded.publish("one-stop-covid-measures")

    fired = await reloaded.fire("citizens-daily-digest", EVENING)

    body = text_of((await reloaded.digests_sent(fired.publication_id))[english])
    assert COVID_TITLE in body
    assert "(in Vietnamese only)" in body
    assert "https://thongbao.example.gov.vn/vi/one-stop-covid-measures/" in body


def assert_list_mail(message: EmailMessage) -> None:
    """The list headers every list message carries (the mail engine personalises them)."""
    assert message["List-Id"] == "Thông báo dịch vụ công <citizens.example.gov.vn>"
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("html",)) is not None


async def test_the_next_digest_lists_corrections_and_withdrawals(world: World) -> None:
    world.at(CONFIRMED)
    daily = await world.subscriber(
        "hang.ngay@mail.example.vn", ["covid-19-measures", "support-contacts"], Frequency.DAILY
    )
    world.at(MORNING)
    await world.publish("one-stop-covid-measures")
    await world.publish("support-contacts")
    await world.fire("citizens-daily-digest", EVENING)

    next_morning = datetime(2021, 7, 13, 8, tzinfo=HCM)
    world.at(next_morning)
    path = world.workspace.root / "campaigns/support-contacts/en.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n---\n", "\nchanges: New hotline.\n---\n", 1), "utf-8")
    world = World.reload(world)
    await world.publish("support-contacts")  # a correction
    await world.publisher.withdraw(
        "one-stop-covid-measures", source=PublicationSource.ADMIN, reason="Hết hiệu lực"
    )
    fired = await world.fire("citizens-daily-digest", datetime(2021, 7, 13, 18, tzinfo=HCM))

    body = text_of((await world.digests_sent(fired.publication_id))[daily])
    assert f"[Đã thu hồi] [Khẩn] {COVID_TITLE}" in body
    assert "Thông báo này đã được thu hồi và không còn áp dụng. Lý do: Hết hiệu lực" in body
    assert "[Đã cập nhật] " in body
