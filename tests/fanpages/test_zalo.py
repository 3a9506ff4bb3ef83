"""The zalo channel against a stand-in Zalo OA Open API: the exact requests of an article
and its broadcast, a correction and a withdrawal, and what the error codes do."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from broadcaster.cli.operations import status_report
from broadcaster.fanpages.zalo import QUOTA_ZONE
from broadcaster.outbox.tables import PublicationSource, deliveries
from broadcaster.service import Service
from broadcaster.store.engine import write_transaction
from tests.fanpages.conftest import OA_TOKEN, ZaloStandIn, deliver_all

CAMPAIGN = "online-submission"


async def publish(service: Service, campaign: str = CAMPAIGN) -> int:
    published = await service.publisher.publish(campaign, ["zalo-oa"], source=PublicationSource.CLI)
    await deliver_all(service)
    return published.publication_id


async def delivery_of(service: Service, publication_id: int) -> dict[str, object]:
    query = select(deliveries).where(deliveries.c.publication_id == publication_id)
    async with service.engine.connect() as conn:
        return dict((await conn.execute(query)).one()._mapping)


def requests(zalo: ZaloStandIn) -> list[tuple[str, str]]:
    return [(seen.method, seen.path) for seen in zalo.seen]


async def test_article_broadcast_correction_and_withdrawal(
    service: Service, zalo: ZaloStandIn
) -> None:
    first = await publish(service)
    assert requests(zalo) == [
        ("POST", "/v2.0/article/create"),
        ("POST", "/v2.0/article/verify"),
        ("POST", "/v2.0/oa/message"),
    ]
    for seen in zalo.seen:
        assert seen.headers["access_token"] == OA_TOKEN
        assert seen.headers["Content-Type"] == "application/json"
        assert "Authorization" not in seen.headers
    article = zalo.seen[0].json
    assert sorted(article) == [
        "author",
        "body",
        "comment",
        "cover",
        "description",
        "status",
        "title",
        "type",
    ]
    assert article["type"] == "normal"
    assert article["title"].startswith("[KHẨN] Nộp hồ sơ và thanh toán trực tuyến")
    assert len(article["title"]) <= 150
    assert article["author"] == "UBND tỉnh Khánh Hòa"
    assert len(article["description"]) <= 300
    assert article["cover"] == {
        "cover_type": "photo",
        "photo_url": "https://broadcaster.test/cover.png",
        "status": "show",
    }
    assert (article["status"], article["comment"]) == ("show", "show")
    (paragraphs,) = article["body"]
    assert paragraphs["type"] == "text"
    content = paragraphs["content"]
    assert content.startswith("<p>UBND tỉnh Khánh Hòa khuyến khích")
    assert "<p>Các bước thực hiện:<br>1. Truy cập" in content
    assert "**" not in content
    assert "Xem chi tiết: http://broadcaster.test/vi/online-submission/" in content
    assert zalo.seen[1].json == {"token": "t1"}
    assert zalo.seen[2].json == {
        "recipient": {"target": {}},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "article", "attachment_id": "a0001"}],
                },
            }
        },
    }
    assert (await delivery_of(service, first))["receipt"] == "article a0001, broadcast m3"

    # A correction updates the article; the followers are not messaged twice.
    vi = service.workspace.root / "campaigns" / CAMPAIGN / "vi.md"
    vi.write_text(vi.read_text().replace("Ghi lại mã hồ sơ", "Lưu lại mã hồ sơ"))
    assert await service.reload()
    second = await publish(service)
    assert requests(zalo)[3:] == [
        ("POST", "/v2.0/article/update"),
        ("POST", "/v2.0/article/verify"),
    ]
    updated = zalo.seen[3].json
    assert updated["id"] == "a0001"
    assert "6. Lưu lại mã hồ sơ" in updated["body"][0]["content"]
    assert zalo.seen[4].json == {"token": "t4"}
    assert (await delivery_of(service, second))["receipt"] == "article a0001 updated"

    # A withdrawal removes it.
    withdrawal = await service.publisher.withdraw(CAMPAIGN, source=PublicationSource.ADMIN)
    await deliver_all(service)
    assert requests(zalo)[5:] == [("POST", "/v2.0/article/remove")]
    assert zalo.seen[5].json == {"id": "a0001"}
    assert withdrawal.publication_id is not None
    receipt = (await delivery_of(service, withdrawal.publication_id))["receipt"]
    assert receipt == "article a0001 removed"
    assert zalo.articles == {}


async def test_out_of_quota_waits_for_the_quota_then_only_broadcasts(
    service: Service, zalo: ZaloStandIn
) -> None:
    zalo.by_path["oa/message"] = [(200, {"error": -211, "message": "Out of quota"}, {})]
    first = await publish(service)
    row = await delivery_of(service, first)
    assert row["status"] == "temporary-failure"
    assert "Zalo OA API error -211 (rate-limit): Out of quota" in str(row["last_error"])
    due = row["next_attempt_at"]
    assert isinstance(due, datetime)
    assert due.astimezone(QUOTA_ZONE).date() > datetime.now(QUOTA_ZONE).date()
    async with write_transaction(service.engine) as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == row["id"])
            .values(next_attempt_at=datetime.now(UTC))
        )
    await deliver_all(service)
    assert [path for _, path in requests(zalo)] == [
        "/v2.0/article/create",
        "/v2.0/article/verify",
        "/v2.0/oa/message",
        "/v2.0/oa/message",
    ]
    row = await delivery_of(service, first)
    assert (row["status"], row["receipt"]) == ("delivered", "article a0001, broadcast m3")


async def test_an_invalid_token_raises_an_alert(service: Service, zalo: ZaloStandIn) -> None:
    zalo.token = "a-new-token-the-channel-does-not-have"
    first = await publish(service)
    row = await delivery_of(service, first)
    assert row["status"] == "permanent-failure"
    assert "Zalo OA API error -216 (token): Access token is invalid" in str(row["last_error"])
    report = await status_report(service.settings, 20)
    (alert,) = [item for item in report if item["status"] == "alert"]
    assert alert["channel"] == "zalo-oa"
    assert alert["kind"] == "token"


async def test_a_permission_not_granted_is_permanent(service: Service, zalo: ZaloStandIn) -> None:
    zalo.by_path["oa/message"] = [
        (200, {"error": -224, "message": "OA has not been granted this permission"}, {})
    ]
    first = await publish(service)
    assert (await delivery_of(service, first))["status"] == "permanent-failure"
    assert service.live.fanpages is not None
    alerts = await service.live.fanpages.alerts()
    assert [(a.channel, a.kind) for a in alerts] == [("zalo-oa", "permission")]


async def test_where_removing_is_refused_the_article_becomes_a_withdrawal_notice(
    service: Service, zalo: ZaloStandIn
) -> None:
    await publish(service)
    zalo.by_path["article/remove"] = [
        (200, {"error": -201, "message": "Article cannot be removed"}, {})
    ]
    withdrawal = await service.publisher.withdraw(CAMPAIGN, source=PublicationSource.ADMIN)
    await deliver_all(service)
    assert [path for _, path in requests(zalo)][3:] == [
        "/v2.0/article/remove",
        "/v2.0/article/update",
        "/v2.0/article/verify",
    ]
    notice = zalo.seen[4].json
    assert notice["id"] == "a0001"
    assert notice["title"].startswith("[ĐÃ THU HỒI]")
    assert "Thông tin hiện hành: http://broadcaster.test/vi/" in notice["body"][0]["content"]
    assert withdrawal.publication_id is not None
    row = await delivery_of(service, withdrawal.publication_id)
    assert (
        row["receipt"]
        == "article a0001 rewritten to a withdrawal notice (Zalo would not remove it)"
    )
