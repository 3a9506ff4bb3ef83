"""An urgent campaign, its material correction and its withdrawal through `serve`'s app, on
every channel at once: the Facebook page and the Zalo OA (local stand-ins of the Graph API
and the Zalo OA Open API), the CAP alerts (checked against the OASIS schema, signature
verified), and email to subscribers and the press desk through a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from lxml import etree

from tests.alerts.conftest import (
    CAMPAIGN,
    CAP,
    CHANNELS,
    DIALECTS,
    Rig,
    by_recipient,
    database_for,
    edit,
    info,
    publish,
    running_rig,
    subscribe,
    text_of,
)
from tests.fanpages.conftest import (
    GRAPH_VERSION,
    OA_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    GraphStandIn,
    ZaloStandIn,
    add_channels,
    running,
)
from tests.mail.conftest import Handler
from tests.web.admin.conftest import wait_delivered, wait_for

EVERY_CHANNEL = [*CHANNELS, "facebook-page", "zalo-oa"]
DESK = {"toasoan@baokhanhhoa.example.vn", "thoisu@ktv.example.vn"}
READERS = {"lan@example.vn", "minh@example.com"}
PAGE = f"http://broadcaster.test/vi/{CAMPAIGN}/"
POST = f"/{GRAPH_VERSION}/{PAGE_ID}_1001"  # the stand-in's first post id


@dataclass
class World:
    rig: Rig
    graph: GraphStandIn
    zalo: ZaloStandIn

    def requests(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(method, path) of every request each stand-in has had, in order."""
        return (
            [(seen.method, seen.path) for seen in self.graph.seen],
            [(seen.method, seen.path) for seen in self.zalo.seen],
        )

    async def alert(self) -> tuple[str, str, etree._Element]:
        """The only entry of /cap/index.atom: (msgType, identifier, the checked alert)."""
        [(_, path)] = await self.rig.alerts()
        alert = await self.rig.alert(path)
        kind, identifier = (
            alert.findtext(f"{{{CAP}}}{name}") for name in ("msgType", "identifier")
        )
        return str(kind), str(identifier), alert


@pytest_asyncio.fixture(params=DIALECTS)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Handler, int]
) -> AsyncIterator[World]:
    """The alerts rig with a `facebook` and a `zalo` channel pointing at the stand-ins."""
    async with running(GraphStandIn()) as graph, running(ZaloStandIn()) as zalo:

        def fanpages(root: Path) -> dict[str, str]:
            add_channels(root, graph, zalo)
            return {"FB_PAGE_TOKEN": PAGE_TOKEN, "ZALO_OA_TOKEN": OA_TOKEN}

        async with (
            database_for(request.param) as url,
            running_rig(tmp_path, smtp, url, fanpages) as rig,
        ):
            yield World(rig, graph, zalo)


async def test_every_channel_carries_the_alert_its_correction_and_its_withdrawal(
    world: World,
) -> None:
    rig, graph, zalo = world.rig, world.graph, world.zalo
    await subscribe(rig, "lan@example.vn", "vi")
    await subscribe(rig, "minh@example.com", "en")

    # 1. The urgent campaign goes out everywhere.
    first = await publish(rig, channels=EVERY_CHANNEL)
    fanpages = {"facebook-page": 1, "zalo-oa": 1}
    await wait_delivered(rig.staff, first, {"citizens": 2, "press-desk": 2, **fanpages})
    assert world.requests() == (
        [("POST", f"/{GRAPH_VERSION}/{PAGE_ID}/feed")],
        [
            ("POST", "/v2.0/article/create"),
            ("POST", "/v2.0/article/verify"),
            ("POST", "/v2.0/oa/message"),
        ],
    )
    [post] = graph.seen
    assert post.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert post.form is not None
    assert post.form["link"] == PAGE
    assert post.form["message"].startswith("[KHẨN] Nộp hồ sơ và thanh toán trực tuyến")
    assert "\n6. Ghi lại mã hồ sơ để theo dõi" in post.form["message"]
    assert all(seen.headers["access_token"] == OA_TOKEN for seen in zalo.seen)
    article = zalo.seen[0].json
    assert article["title"].startswith("[KHẨN] Nộp hồ sơ và thanh toán trực tuyến")
    assert f"Xem chi tiết: {PAGE}" in article["body"][0]["content"]
    elements = zalo.seen[2].json["message"]["attachment"]["payload"]["elements"]
    assert elements == [{"media_type": "article", "attachment_id": "a0001"}]
    kind, alerted, alert = await world.alert()
    assert kind == "Alert"
    assert info(alert, "vi-VN", "web") == PAGE
    sent = by_recipient(rig, 0)
    assert set(sent) == READERS | DESK
    assert str(sent["lan@example.vn"]["Subject"]).startswith("[KHẨN] Nộp hồ sơ")
    assert str(sent["minh@example.com"]["Subject"]).startswith("[URGENT] ")
    assert "THÔNG CÁO BÁO CHÍ" in text_of(sent["toasoan@baokhanhhoa.example.vn"])

    # 2. A material correction edits the post and the article (the followers are not
    # messaged again), updates the alert and mails the earlier recipients.
    edit(rig.root, "vi", "Ghi lại mã hồ sơ", "Lưu lại mã hồ sơ", "Sửa bước 6.")
    edit(rig.root, "en", "Write down your application code", "Keep your code", "Step 6.")
    assert await rig.staff.service.reload()
    before = len(rig.mail())
    second = await publish(rig, "material", EVERY_CHANNEL)
    await wait_delivered(rig.staff, second, {"citizens": 2, "press-desk": 2, **fanpages})
    facebook, zalo_requests = world.requests()
    assert facebook[1:] == [("POST", POST)]
    assert zalo_requests[3:] == [("POST", "/v2.0/article/update"), ("POST", "/v2.0/article/verify")]
    assert graph.seen[1].form is not None
    assert list(graph.seen[1].form) == ["message"]
    assert "\n6. Lưu lại mã hồ sơ để theo dõi" in graph.seen[1].form["message"]
    assert graph.posts[f"{PAGE_ID}_1001"] == graph.seen[1].form["message"]
    assert zalo.seen[3].json["id"] == "a0001"
    assert "6. Lưu lại mã hồ sơ" in zalo.articles["a0001"]["body"][0]["content"]
    kind, updated, update = await world.alert()
    assert kind == "Update"
    assert (update.findtext(f"{{{CAP}}}references") or "").split(",")[1] == alerted
    corrected = by_recipient(rig, before)
    assert set(corrected) == READERS | DESK
    assert str(corrected["lan@example.vn"]["Subject"]).startswith("[KHẨN] [Đã cập nhật] ")
    assert str(corrected["minh@example.com"]["Subject"]).startswith("[URGENT] [Updated] ")
    english = text_of(corrected["minh@example.com"])
    assert english.index("What changed: Step 6.") < english.index("6. Keep your code")

    # 3. The withdrawal deletes the post and removes the article, cancels the alert and
    # sends one short notice per person, with the reason.
    before = len(rig.mail())
    reason = {"reason": "Văn bản đã được thay thế"}
    await rig.staff.api("POST", f"/campaigns/{CAMPAIGN}/withdrawal", "chi", reason, status=201)
    await wait_for(lambda: len(rig.mail()) - before == 4 and not graph.posts and not zalo.articles)
    facebook, zalo_requests = world.requests()
    assert facebook[2:] == [("DELETE", POST)]
    assert graph.seen[2].headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert zalo_requests[5:] == [("POST", "/v2.0/article/remove")]
    assert zalo.seen[5].json == {"id": "a0001"}
    kind, _, cancel = await world.alert()
    assert kind == "Cancel"
    references = (cancel.findtext(f"{{{CAP}}}references") or "").split()
    assert [reference.split(",")[1] for reference in references] == [alerted, updated]
    notices = by_recipient(rig, before)
    assert set(notices) == READERS | DESK
    assert str(notices["lan@example.vn"]["Subject"]).startswith("[Đã thu hồi]")
    assert "Lý do thu hồi: Văn bản đã được thay thế" in text_of(notices["lan@example.vn"])
    assert str(notices["minh@example.com"]["Subject"]).startswith("[Withdrawn]")
    assert "Lý do thu hồi: Văn bản đã được thay thế" in text_of(notices["thoisu@ktv.example.vn"])
