"""The dashboard's charts: counted in the database per hour on both dialects, drawn as SVG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import lxml.html
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.outbox.history import delivered_per_hour
from broadcaster.outbox.outbox import Outbox
from broadcaster.outbox.tables import DeliveryStatus, PublicationSource, deliveries
from broadcaster.store.engine import write_transaction
from broadcaster.subscribers.counts import changes_per_hour
from broadcaster.subscribers.store import SqlSubscriberStore
from broadcaster.web.admin.charts import Buckets, deliveries_chart, subscribers_chart
from broadcaster.web.admin.localtime import LocalTime
from broadcaster.workspace.models import Frequency
from tests.web.admin.conftest import Staff

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_deliveries_and_subscribers_are_counted_per_hour(engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    publication, _ = await outbox.create_publication(
        "online-submission", "rev1", ["citizens", "website"], source=PublicationSource.CLI
    )
    items = [("citizens", f"p{i}@example.vn", "vi") for i in range(3)] + [("website", "", "vi")]
    await outbox.enqueue(publication, items)
    at = datetime(2026, 12, 2, 16, 27, tzinfo=UTC)  # 23:27 in Vietnam
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(deliveries).values(status=DeliveryStatus.DELIVERED, updated_at=at)
        )
    rows = await delivered_per_hour(engine, at - timedelta(days=1))
    hour = datetime(2026, 12, 2, 16, tzinfo=UTC)
    assert sorted(rows) == [("citizens", hour, 3), ("website", hour, 1)]
    assert await delivered_per_hour(engine, at + timedelta(hours=1)) == []

    store = SqlSubscriberStore(engine, b"secret-for-tests-0123456789abcdef")
    for email in ("a@example.vn", "b@example.vn"):
        outcome = await store.request(
            email,
            locale="vi",
            topics=["covid-19"],
            frequency=Frequency.IMMEDIATE,
            ip=None,
            form="web",
        )
        assert outcome.subscriber_id is not None
        await store.confirm(outcome.subscriber_id, ip=None)
    assert outcome.subscriber_id is not None
    await store.unsubscribe(outcome.subscriber_id, ip=None, how="web")
    changes = await changes_per_hour(engine, datetime.now(UTC) - timedelta(hours=2))
    assert sum(n for _, n in changes["confirmed"]) == 2
    assert sum(n for _, n in changes["unsubscribed"]) == 1


def test_the_charts_bucket_by_local_day_and_stack_channels() -> None:
    clock = LocalTime(ZONE, "vi")
    now = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 08:00 on 3 December in Vietnam
    days = Buckets.of("day", clock, now)
    assert len(days.starts) == 14
    assert days.label(days.starts[-1]) == "3/12"
    # 16:xx UTC on 2 December is 23:xx there: still 2 December; 17:xx is the 3rd.
    rows = [
        ("citizens", datetime(2026, 12, 2, 16, tzinfo=UTC), 3),
        ("website", datetime(2026, 12, 2, 17, tzinfo=UTC), 1),
    ]
    chart = deliveries_chart("Đã gửi", rows, days)
    assert chart.rows[-2] == ("2/12", [3, 0])
    assert chart.rows[-1] == ("3/12", [0, 1])
    assert [name for name, _ in chart.legend] == ["citizens", "website"]
    assert [b.title for b in chart.bars] == ["2/12: citizens 3", "3/12: website 1"]
    hours = Buckets.of("hour", clock, now)
    assert [hours.label(s) for s in hours.starts[-2:]] == ["07:00", "08:00"]
    changes = {"confirmed": [(now, 2)], "unsubscribed": [(now, 1)]}
    people = subscribers_chart("Người đăng ký", changes, hours, ("mới", "hủy"))
    assert people.rows[-1] == ("08:00", [2, 1])
    up, down = people.bars
    assert up.y + up.height == people.baseline == down.y


async def test_the_dashboard_draws_the_charts_and_updates_in_place(staff: Staff) -> None:
    staff.client.session.cookie_jar.clear()
    assert (await staff.login("ana")).status == 303
    body = await (await staff.client.get("/admin/publications")).text()
    page = lxml.html.document_fromstring(body)
    assert page.xpath("//meta[@http-equiv='refresh']") == []
    assert page.xpath("string(//*[@role='status']/@aria-live)") == "polite"
    assert page.xpath("//script/@src") == ["/admin/static/live.js"]
    captions = [page.xpath(f"string(//figure[@class='chart'][{i}]/figcaption)") for i in (1, 2)]
    assert captions == [
        "Số lượt gửi thành công theo kênh",
        "Người đăng ký mới và người hủy đăng ký",
    ]
    assert page.xpath("count(//figure//*[local-name()='svg'][@role='img'])") == 2
    hourly = await (await staff.client.get("/admin/publications?by=hour")).text()
    assert "<strong>Theo giờ, 24 giờ qua</strong>" in hourly
    script = await staff.client.get("/admin/static/live.js")
    assert script.status == 200
    assert "aria-live" not in body.split("<main>")[0]  # announced from the page, not the header
