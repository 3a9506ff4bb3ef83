"""The facebook channel against a stand-in Graph API: the exact requests of a post, a
correction and a withdrawal, and what each documented error code does to the delivery."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from broadcaster.cli.operations import status_report
from broadcaster.outbox.tables import PublicationSource, deliveries
from broadcaster.service import Service
from broadcaster.store.engine import write_transaction
from tests.fanpages.conftest import (
    GRAPH_VERSION,
    PAGE_ID,
    PAGE_TOKEN,
    GraphStandIn,
    deliver_all,
    graph_error,
)

CAMPAIGN = "online-submission"  # urgent; topics online-services, covid-19-measures
FEED = f"/{GRAPH_VERSION}/{PAGE_ID}/feed"


async def publish(service: Service, campaign: str = CAMPAIGN) -> int:
    published = await service.publisher.publish(
        campaign, ["facebook-page"], source=PublicationSource.CLI
    )
    await deliver_all(service)
    return published.publication_id


async def delivery_of(service: Service, publication_id: int) -> dict[str, object]:
    query = select(deliveries).where(deliveries.c.publication_id == publication_id)
    async with service.engine.connect() as conn:
        return dict((await conn.execute(query)).one()._mapping)


async def test_post_correction_and_withdrawal_make_the_documented_requests(
    service: Service, graph: GraphStandIn
) -> None:
    first = await publish(service)
    (post,) = graph.seen
    assert (post.method, post.path) == ("POST", FEED)
    assert post.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.form is not None
    assert sorted(post.form) == ["link", "message"]
    assert post.form["link"] == "http://broadcaster.test/vi/online-submission/"
    message = post.form["message"]
    assert message.startswith("[KHẨN] Nộp hồ sơ và thanh toán trực tuyến")
    assert "Các bước thực hiện:\n1. Truy cập một trong hai cổng DVC" in message
    assert "\n6. Ghi lại mã hồ sơ để theo dõi" in message
    assert "**" not in message
    assert "##" not in message
    assert "Xem chi tiết: http://broadcaster.test/vi/online-submission/" in message
    assert message.endswith("#DichVuCongTrucTuyen #PhòngChốngDịchCOVID19")
    row = await delivery_of(service, first)
    assert (row["status"], row["receipt"]) == ("delivered", f"post {PAGE_ID}_1001")

    # A correction: the next revision edits the same post.
    vi = service.workspace.root / "campaigns" / CAMPAIGN / "vi.md"
    vi.write_text(vi.read_text().replace("Ghi lại mã hồ sơ", "Lưu lại mã hồ sơ"))
    assert await service.reload()
    second = await publish(service)
    edit = graph.seen[1]
    assert (edit.method, edit.path) == ("POST", f"/{GRAPH_VERSION}/{PAGE_ID}_1001")
    assert edit.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert edit.form is not None
    assert list(edit.form) == ["message"]
    assert "\n6. Lưu lại mã hồ sơ" in edit.form["message"]
    assert (await delivery_of(service, second))["receipt"] == f"post {PAGE_ID}_1001 edited"

    # A withdrawal deletes it.
    withdrawal = await service.publisher.withdraw(CAMPAIGN, source=PublicationSource.ADMIN)
    assert withdrawal.deliveries == 1
    assert withdrawal.publication_id is not None
    await deliver_all(service)
    delete = graph.seen[2]
    assert (delete.method, delete.path) == ("DELETE", f"/{GRAPH_VERSION}/{PAGE_ID}_1001")
    assert delete.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert graph.posts == {}
    receipt = (await delivery_of(service, withdrawal.publication_id))["receipt"]
    assert receipt == f"post {PAGE_ID}_1001 deleted"
    assert len(graph.seen) == 3


async def test_a_campaign_with_an_image_is_a_photo_post(
    service: Service, graph: GraphStandIn
) -> None:
    files = service.workspace.root / "campaigns" / CAMPAIGN / "files"
    (files / "poster.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert await service.reload()
    await publish(service)
    (photo,) = graph.seen
    assert (photo.method, photo.path) == ("POST", f"/{GRAPH_VERSION}/{PAGE_ID}/photos")
    assert photo.form is not None
    assert sorted(photo.form) == ["caption", "url"]
    assert photo.form["url"] == "http://broadcaster.test/files/online-submission/poster.png"
    assert photo.form["caption"].startswith("[KHẨN] Nộp hồ sơ")


async def test_where_deleting_is_refused_the_post_becomes_a_withdrawal_notice(
    service: Service, graph: GraphStandIn
) -> None:
    await publish(service)
    graph.queued.append((400, graph_error(100, "This post could not be deleted"), {}))
    await service.publisher.withdraw(CAMPAIGN, source=PublicationSource.ADMIN)
    await deliver_all(service)
    delete, edit = graph.seen[1:]
    assert (delete.method, edit.method, edit.path) == (
        "DELETE",
        "POST",
        f"/{GRAPH_VERSION}/{PAGE_ID}_1001",
    )
    assert edit.form is not None
    assert edit.form["message"].startswith("[ĐÃ THU HỒI] Thông báo này đã được")
    assert "Thông tin hiện hành: http://broadcaster.test/vi/" in edit.form["message"]


async def test_an_expired_token_stops_for_good_and_raises_an_alert_in_status(
    service: Service, graph: GraphStandIn
) -> None:
    expired = graph_error(190, "Error validating access token: Session has expired.", 463)
    graph.queued.append((400, expired, {}))
    first = await publish(service)
    row = await delivery_of(service, first)
    assert row["status"] == "permanent-failure"
    assert "Graph API error 190 (token)" in str(row["last_error"])
    report = await status_report(service.settings, 20)
    (alert,) = [item for item in report if item["status"] == "alert"]
    assert alert["channel"] == "facebook-page"
    assert alert["kind"] == "token"
    assert "Session has expired" in alert["error"]
    assert "get a new token" in alert["error"]
    # The next post that goes through (a new token) clears the alert.
    await publish(service, "support-contacts")
    report = await status_report(service.settings, 20)
    assert [item for item in report if item["status"] == "alert"] == []


async def test_permission_denied_is_permanent(service: Service, graph: GraphStandIn) -> None:
    message = "(#200) The user hasn't authorized the application to perform this action"
    graph.queued.append((403, graph_error(200, message), {}))
    first = await publish(service)
    row = await delivery_of(service, first)
    assert row["status"] == "permanent-failure"
    alerts = await service.live.fanpages.alerts() if service.live.fanpages else []
    assert [(a.channel, a.kind) for a in alerts] == [("facebook-page", "permission")]


async def test_rate_limits_and_outages_are_retried_with_the_platforms_back_off(
    service: Service, graph: GraphStandIn
) -> None:
    usage = f'{{"{PAGE_ID}": [{{"type": "pages", "estimated_time_to_regain_access": 17}}]}}'
    graph.queued.append((400, graph_error(32, "Page request limit reached"), {}))
    graph.queued[-1][2]["X-Business-Use-Case-Usage"] = usage
    before = datetime.now(UTC)
    first = await publish(service)
    row = await delivery_of(service, first)
    assert row["status"] == "temporary-failure"
    assert "Graph API error 32 (rate-limit)" in str(row["last_error"])
    due = row["next_attempt_at"]
    assert isinstance(due, datetime)
    assert due >= before + timedelta(minutes=17)
    assert service.live.fanpages is not None
    assert await service.live.fanpages.alerts() == []
    graph.queued.append((500, graph_error(2, "Service temporarily unavailable"), {}))
    second = await publish(service, "support-contacts")
    assert (await delivery_of(service, second))["status"] == "temporary-failure"


async def test_a_correction_queued_behind_the_first_post_waits_for_it(
    service: Service, graph: GraphStandIn
) -> None:
    # Throttled for a minute: the first post is retried well after the correction is queued.
    usage = json.dumps({PAGE_ID: [{"type": "pages", "estimated_time_to_regain_access": 1}]})
    limit = graph_error(4, "Application request limit reached")
    graph.queued.append((400, limit, {"X-Business-Use-Case-Usage": usage}))
    first = await publish(service)
    assert (await delivery_of(service, first))["status"] == "temporary-failure"
    vi = service.workspace.root / "campaigns" / CAMPAIGN / "vi.md"
    vi.write_text(vi.read_text().replace("Ghi lại mã hồ sơ", "Lưu lại mã hồ sơ"))
    assert await service.reload()
    second = await publish(service)
    row = await delivery_of(service, second)
    assert (row["status"], row["attempts"]) == ("created", 0)  # put back, untried
    assert len(graph.seen) == 1  # the correction did not make a post of its own
    async with write_transaction(service.engine) as conn:
        await conn.execute(update(deliveries).values(next_attempt_at=datetime.now(UTC)))
    deadline = asyncio.get_running_loop().time() + 20
    while (await delivery_of(service, second))["status"] != "delivered":
        assert asyncio.get_running_loop().time() < deadline
        await deliver_all(service)
        await asyncio.sleep(0.1)
    assert [(s.method, s.path) for s in graph.seen] == [
        ("POST", FEED),
        ("POST", FEED),
        ("POST", f"/{GRAPH_VERSION}/{PAGE_ID}_1001"),
    ]


async def test_a_correction_of_a_post_deleted_by_hand_posts_again(
    service: Service, graph: GraphStandIn
) -> None:
    await publish(service)
    graph.posts.clear()  # someone deleted it on the page
    vi = service.workspace.root / "campaigns" / CAMPAIGN / "vi.md"
    vi.write_text(vi.read_text().replace("Ghi lại mã hồ sơ", "Lưu lại mã hồ sơ"))
    assert await service.reload()
    second = await publish(service)
    assert [(s.method, s.path) for s in graph.seen] == [
        ("POST", FEED),
        ("POST", f"/{GRAPH_VERSION}/{PAGE_ID}_1001"),
        ("POST", FEED),
    ]
    assert (await delivery_of(service, second))["receipt"] == f"post {PAGE_ID}_1002"
    assert service.live.fanpages is not None
    assert await service.live.fanpages.alerts() == []
