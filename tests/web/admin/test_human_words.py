"""What staff read: the audit log in sentences and local time, who published, `status`."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import lxml.html
from lxml.html import HtmlElement

from broadcaster.cli.operations import status_report
from tests.web.admin.conftest import Staff

CAMPAIGN = "support-contacts"


def _doc(body: str) -> HtmlElement:
    return lxml.html.document_fromstring(body)


def _text(doc: HtmlElement, xpath: str) -> str:
    return " ".join(str(doc.xpath(f"string({xpath})")).split())


async def _as(staff: Staff, name: str) -> None:
    staff.client.session.cookie_jar.clear()
    assert (await staff.login(name)).status == 303


async def _emergency_then_reviewed(staff: Staff) -> None:
    revision = (await staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana"))["revision"]
    await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "channels": ["website"], "emergency_reason": "Bão số 5"},
        status=201,
    )
    (before,) = await status_report(staff.service.settings, 10)
    assert before["emergency"] is True
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "chi", {"revision": revision}, status=201
    )


async def test_status_drops_the_emergency_mark_once_reviewed(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    (after,) = await status_report(staff.service.settings, 10)
    assert after["emergency"] is False


async def test_the_audit_log_reads_as_vietnamese_sentences_in_local_time(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    await _as(staff, "dung")
    page = _doc(await (await staff.client.get("/admin/audit")).text())
    table = _text(page, "//table")
    assert "binh đã xuất bản khẩn cấp chiến dịch support-contacts" in table
    assert "Lý do: Bão số 5" in table
    assert "binh đã xuất bản chiến dịch support-contacts (lần xuất bản số 1)" in table
    assert "chi đã duyệt chiến dịch support-contacts." in table
    assert "dung đã đăng nhập." in table
    for code in ("publication.created", "review.approved", "login", "None", "{"):
        assert code not in table, code
    # Local time in Vietnamese words, the zone named above the table.
    when = _text(page, "//table/tbody/tr[1]/td[1]")
    assert when.startswith("ngày "), when
    assert " tháng " in when, when
    assert " năm " in when, when
    assert "Giờ Việt Nam, GMT+07:00" in _text(page, "//main")
    english = _doc(await (await staff.client.get("/admin/audit?lang=en")).text())
    assert "binh approved" not in _text(english, "//table")
    assert "chi approved support-contacts." in _text(english, "//table")


async def test_the_audit_log_filters_by_person_campaign_and_day(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    await _as(staff, "dung")
    mine = _doc(await (await staff.client.get("/admin/audit?who=chi")).text())
    rows = mine.xpath("//table/tbody/tr/td[2]")
    assert rows
    assert all(r.text_content().startswith("chi ") for r in rows)
    assert mine.xpath("//select[@name='who']/option[@selected]/@value") == ["chi"]
    campaign = _doc(await (await staff.client.get(f"/admin/audit?campaign={CAMPAIGN}")).text())
    assert "dung đã đăng nhập." not in _text(campaign, "//table")
    assert "chi đã duyệt" in _text(campaign, "//table")
    tomorrow = (datetime.now() + timedelta(days=2)).date().isoformat()
    later = _doc(await (await staff.client.get(f"/admin/audit?from={tomorrow}")).text())
    assert _text(later, "//table/tbody") == "Không có mục nào khớp với bộ lọc."
    link = _text(mine, "//a[@download]/@href")
    assert link == "/admin/audit.csv?who=chi"


async def test_the_csv_opens_in_excel_with_vietnamese_sentences(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    await _as(staff, "dung")
    answer = await staff.client.get(f"/admin/audit.csv?campaign={CAMPAIGN}")
    raw = await answer.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["campaign"] for r in rows} == {CAMPAIGN}
    described = [r["description"] for r in rows]
    assert "chi đã duyệt chiến dịch support-contacts." in described
    assert all(r["local_time"].startswith("ngày ") for r in rows)
    assert all("Giờ Việt Nam" in r["local_time"] for r in rows)


async def test_the_dashboard_names_who_published(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    await _as(staff, "ana")
    page = _doc(await (await staff.client.get("/admin/publications")).text())
    row = _text(page, "//table[1]/tbody/tr[1]")
    assert "binh" in row
    assert "admin" not in row
    detail = _doc(await (await staff.client.get("/admin/publications/1")).text())
    assert "Người xuất bản: binh" in _text(detail, "//main")


async def test_publishing_an_expired_campaign_asks_first(staff: Staff) -> None:
    expired = "one-stop-covid-measures"  # expired at the end of 2021
    revision = (await staff.api("GET", f"/campaigns/{expired}", "ana"))["revision"]
    await staff.api(
        "POST", f"/campaigns/{expired}/approvals", "chi", {"revision": revision}, status=201
    )
    await _as(staff, "binh")
    page = _doc(await (await staff.client.get(f"/admin/campaigns/{expired}")).text())
    publish = page.xpath(f"//form[@action='/admin/campaigns/{expired}/publish']")[0]
    box = publish.xpath(".//input[@name='publish_expired']")[0]
    assert box.get("required") is not None
    assert "đã hết hạn vào ngày 31 tháng 12 năm 2021, 23:59" in _text(publish, ".")
    csrf = _text(page, "//input[@name='csrf_token']/@value")
    form = {"csrf_token": csrf, "revision": revision}
    origin = {"Origin": "http://broadcaster.test"}
    url = f"/admin/campaigns/{expired}/publish"
    refused = await staff.client.post(url, data=form, headers=origin, allow_redirects=False)
    assert refused.status == 409
    assert "hãy đánh dấu ô xác nhận" in _text(_doc(await refused.text()), "//main")
    assert await status_report(staff.service.settings, 10) == []
    form["publish_expired"] = "1"
    done = await staff.client.post(url, data=form, headers=origin, allow_redirects=False)
    assert done.status == 303
    (published,) = await status_report(staff.service.settings, 10)
    assert published["campaign"] == expired


async def test_the_api_describes_each_entry_and_filters_like_the_page(staff: Staff) -> None:
    await _emergency_then_reviewed(staff)
    body = await staff.api("GET", "/audit?who=chi&lang=en", "dung", status=200)
    assert [e["description"] for e in body["entries"]] == ["chi approved support-contacts."]
    assert body["entries"][0]["action"] == "review.approved"
    assert " 20" in body["entries"][0]["local_time"]
