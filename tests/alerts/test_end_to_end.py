"""An urgent campaign, then its correction, then its withdrawal, through `serve`'s app with
a real SMTP server: CAP alerts (validated against the OASIS schema, signature verified),
email to subscribers and the press desk at each step."""

from __future__ import annotations

from tests.alerts.conftest import (
    CAMPAIGN,
    CAP,
    Rig,
    by_recipient,
    edit,
    info,
    publish,
    subscribe,
    text_of,
)
from tests.web.admin.conftest import wait_delivered, wait_for

DESK = {"toasoan@baokhanhhoa.example.vn", "thoisu@ktv.example.vn"}
READERS = {"lan@example.vn", "minh@example.com"}


async def test_alert_correction_and_withdrawal_reach_everyone(rig: Rig) -> None:
    await subscribe(rig, "lan@example.vn", "vi")
    await subscribe(rig, "minh@example.com", "en")

    # 1. The urgent campaign goes out: an Alert, and email to readers and the desk.
    first = await publish(rig)
    await wait_delivered(rig.staff, first, {"citizens": 2, "press-desk": 2})
    sent = by_recipient(rig, 0)
    assert set(sent) == READERS | DESK
    [(title, path)] = await rig.alerts()
    assert title.startswith("Alert: ")
    alert = await rig.alert(path)
    assert alert.findtext(f"{{{CAP}}}msgType") == "Alert"
    assert alert.findtext(f"{{{CAP}}}sender") == "thongbao@example.gov.vn"
    assert alert.findtext(f"{{{CAP}}}status") == "Actual"
    assert info(alert, "vi-VN", "urgency") == "Immediate"
    assert info(alert, "en-US", "senderName") == "Khanh Hoa Provincial People's Committee"
    assert info(alert, "vi-VN", "web") == f"http://broadcaster.test/vi/{CAMPAIGN}/"
    area = f"{{{CAP}}}info[{{{CAP}}}language='en-US']/{{{CAP}}}area/{{{CAP}}}areaDesc"
    assert alert.findtext(area) == "Khanh Hoa Province"
    first_id = alert.findtext(f"{{{CAP}}}identifier")
    again = await rig.staff.client.get(path)
    assert again.headers["Content-Type"].startswith("application/cap+xml")
    unchanged = await rig.staff.client.get(path, headers={"If-None-Match": again.headers["ETag"]})
    assert unchanged.status == 304
    assert (await rig.staff.client.get("/cap/nobody.example.1.xml")).status == 404
    first_sent = alert.findtext(f"{{{CAP}}}sent")

    # 2. A material correction: an Update referring to the Alert; the earlier recipients
    # get the corrected text marked Updated, with what changed at the top.
    edit(rig.root, "vi", "Bộ phận Một cửa", "Bộ phận Một cửa các cấp", "Bổ sung cấp xã.")
    edit(rig.root, "en", "one-stop counter", "one-stop counter at any level", "Adds communes.")
    assert await rig.staff.service.reload()
    before = len(rig.mail())
    second = await publish(rig, "material")
    await wait_delivered(rig.staff, second, {"citizens": 2, "press-desk": 2})
    corrected = by_recipient(rig, before)
    assert set(corrected) == READERS | DESK
    assert str(corrected["lan@example.vn"]["Subject"]).startswith("[KHẨN] [Đã cập nhật] ")
    assert str(corrected["minh@example.com"]["Subject"]).startswith("[URGENT] [Updated] ")
    assert "[Đã cập nhật]" in str(corrected["toasoan@baokhanhhoa.example.vn"]["Subject"])
    english = text_of(corrected["minh@example.com"])
    assert english.index("What changed: Adds communes.") < english.index("at any level")
    assert "Nội dung thay đổi: Bổ sung cấp xã." in text_of(corrected["lan@example.vn"])
    [(title, path)] = await rig.alerts()
    assert title.startswith("Update: ")
    update = await rig.alert(path)
    assert update.findtext(f"{{{CAP}}}msgType") == "Update"
    assert update.findtext(f"{{{CAP}}}references") == (
        f"thongbao@example.gov.vn,{first_id},{first_sent}"
    )
    assert "Adds communes." in info(update, "en-US", "description")

    # 3. The withdrawal: a Cancel referring to both, one short notice per person with
    # the reason, and the notice to the desk as a press release.
    before = len(rig.mail())
    await rig.staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/withdrawal",
        "chi",
        {"reason": "Văn bản đã được thay thế"},
        status=201,
    )
    await wait_for(lambda: len(rig.mail()) - before == 4)
    notices = by_recipient(rig, before)
    assert set(notices) == READERS | DESK
    assert str(notices["lan@example.vn"]["Subject"]).startswith("[Đã thu hồi]")
    assert str(notices["minh@example.com"]["Subject"]).startswith("[Withdrawn]")
    assert "Reason: Văn bản đã được thay thế" in text_of(notices["minh@example.com"])
    desk = text_of(notices["toasoan@baokhanhhoa.example.vn"])
    assert "THÔNG CÁO BÁO CHÍ" in desk
    assert "Lý do thu hồi: Văn bản đã được thay thế" in desk
    [(title, path)] = await rig.alerts()
    assert title.startswith("Cancel: ")
    cancel = await rig.alert(path)
    assert cancel.findtext(f"{{{CAP}}}msgType") == "Cancel"
    assert cancel.findtext(f"{{{CAP}}}note") == "Văn bản đã được thay thế"
    references = (cancel.findtext(f"{{{CAP}}}references") or "").split()
    assert [r.split(",")[1] for r in references] == [
        first_id,
        update.findtext(f"{{{CAP}}}identifier"),
    ]


async def test_a_minor_correction_updates_the_alert_and_emails_nobody(rig: Rig) -> None:
    await subscribe(rig, "lan@example.vn", "vi")
    first = await publish(rig)
    await wait_delivered(rig.staff, first, {"citizens": 1, "press-desk": 2})
    before = len(rig.mail())
    edit(rig.root, "vi", "Bộ phận Một cửa", "Bộ phận Một cửa các cấp", "Sửa lỗi chính tả.")
    assert await rig.staff.service.reload()
    second = await publish(rig, "minor")
    await wait_delivered(rig.staff, second, {"website": 1, "feeds": 1})
    detail = await rig.staff.api("GET", f"/publications/{second}", "ana")
    assert "citizens" not in detail["channels"]
    assert "press-desk" not in detail["channels"]
    [(title, path)] = await rig.alerts()
    assert title.startswith("Update: ")
    await rig.alert(path)
    assert len(rig.mail()) == before


async def test_a_correction_that_is_neither_material_nor_minor_is_refused(rig: Rig) -> None:
    body = await rig.staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana", status=200)
    answer = await rig.staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": body["revision"], "correction": "big"},
        status=422,
    )
    assert "'material'" in str(answer)
    assert "'minor'" in str(answer)
