"""The admin pages without a browser: what a person sees after each form post."""

from __future__ import annotations

import csv
import io

import lxml.html
from lxml.html import HtmlElement

from tests.web.admin.conftest import ORIGIN, Staff

CAMPAIGN = "support-contacts"


def _doc(body: str) -> HtmlElement:
    return lxml.html.document_fromstring(body)


def _text(doc: HtmlElement, xpath: str) -> str:
    return " ".join(str(doc.xpath(f"string({xpath})")).split())


async def _signed_in(staff: Staff, name: str) -> tuple[HtmlElement, str]:
    """Sign in as `name`; the campaign's editor page and its CSRF token."""
    staff.client.session.cookie_jar.clear()
    assert (await staff.login(name)).status == 303
    advanced = f"/admin/campaigns/{CAMPAIGN}?view=advanced"
    doc = _doc(await (await staff.client.get(advanced)).text())
    return doc, _text(doc, "//input[@name='csrf_token']/@value")


async def test_a_save_over_a_newer_revision_is_refused_and_the_text_kept(staff: Staff) -> None:
    doc, csrf = await _signed_in(staff, "ana")
    revision = _text(doc, "//form//input[@name='revision']/@value")
    form = {
        name: str(doc.xpath(f"string(//textarea[@name='{name}'])"))
        for name in ("campaign.yaml", "vi.md", "en.md")
    }
    # Meanwhile someone edits the file in git.
    path = staff.service.settings.root / "campaigns" / CAMPAIGN / "en.md"
    path.write_text(path.read_text("utf-8") + "\nEdited in git.\n", encoding="utf-8")
    form["vi.md"] += "\nĐoạn văn mới của Ana.\n"
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}",
        data={**form, "revision": revision, "csrf_token": csrf},
        headers=ORIGIN,
    )
    assert answer.status == 409
    page = _doc(await answer.text())
    assert "đã được người khác thay đổi" in _text(page, "//*[@role='alert']")
    assert "Đoạn văn mới của Ana." in str(page.xpath("string(//textarea[@name='vi.md'])"))
    assert "Edited in git." in path.read_text("utf-8")  # theirs is not overwritten either


async def test_check_problems_are_shown_in_the_editor_and_the_draft_preview(staff: Staff) -> None:
    doc, csrf = await _signed_in(staff, "ana")
    meta = str(doc.xpath("string(//textarea[@name='campaign.yaml'])"))
    fields = {
        "campaign.yaml": meta.replace("priority:", "priorty:"),
        "vi.md": str(doc.xpath("string(//textarea[@name='vi.md'])")),
        "en.md": str(doc.xpath("string(//textarea[@name='en.md'])")),
        "csrf_token": csrf,
    }
    draft = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/preview", data=fields, headers=ORIGIN
    )
    assert draft.status == 200
    problems = _text(_doc(await draft.text()), "//*[@role='alert']")
    assert f"campaigns/{CAMPAIGN}/campaign.yaml:" in problems
    assert "có phải ý bạn là 'priority'" in problems  # in the UI's language
    saved = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}",
        data={**fields, "revision": _text(doc, "//form//input[@name='revision']/@value")},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert saved.status == 303  # the files are the source of truth: saved as written
    editor = _doc(await (await staff.client.get(f"/admin/campaigns/{CAMPAIGN}")).text())
    assert "có phải ý bạn là 'priority'" in _text(editor, "//*[@role='alert']")


async def test_a_draft_preview_renders_unsaved_text_for_every_channel(staff: Staff) -> None:
    doc, csrf = await _signed_in(staff, "ana")
    fields = {
        name: str(doc.xpath(f"string(//textarea[@name='{name}'])"))
        for name in ("campaign.yaml", "vi.md", "en.md")
    }
    fields["en.md"] = fields["en.md"].replace("title:", "title: DRAFT", 1)
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/preview",
        data={**fields, "csrf_token": csrf},
        headers=ORIGIN,
    )
    page = _doc(await answer.text())
    sections = [_text(h, ".") for h in page.xpath("//main//h2")]
    for channel in ("website", "feeds", "citizens", "press-desk", "partners"):
        assert f"{channel} · en" in sections
    frame = page.xpath("//iframe[@title='website en page.html']/@srcdoc")[0]
    assert "DRAFT" in frame
    assert "DRAFT" not in (
        staff.service.settings.root / "campaigns" / CAMPAIGN / "en.md"
    ).read_text("utf-8")


async def test_an_author_sees_no_approval_and_is_refused_one(staff: Staff) -> None:
    doc, csrf = await _signed_in(staff, "ana")
    assert not doc.xpath("//button[@value='approve']")
    revision = _text(doc, "//form//input[@name='revision']/@value")
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/review",
        data={"action": "approve", "revision": revision, "csrf_token": csrf},
        headers=ORIGIN,
    )
    assert answer.status == 403
    refusal = _text(_doc(await answer.text()), "//*[@role='alert']")
    assert "cần vai trò người duyệt; bạn đang có vai trò người soạn" in refusal


async def test_pages_are_vietnamese_by_default_and_english_on_request(staff: Staff) -> None:
    await _signed_in(staff, "binh")
    vi = _doc(await (await staff.client.get("/admin/campaigns")).text())
    assert _text(vi, "//h1") == "Chiến dịch"
    assert vi.xpath("//html/@lang") == ["vi"]
    en = _doc(await (await staff.client.get("/admin/campaigns?lang=en")).text())
    assert _text(en, "//h1") == "Campaigns"
    again = _doc(await (await staff.client.get("/admin/publications")).text())
    assert _text(again, "//h1") == "Delivery"  # the choice is remembered


async def test_admins_export_the_audit_log_as_csv(staff: Staff) -> None:
    await _signed_in(staff, "ana")
    assert (await staff.client.get("/admin/audit.csv")).status == 403
    await _signed_in(staff, "dung")
    answer = await staff.client.get("/admin/audit.csv")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await answer.text())))
    logins = [(r["actor"], r["action"]) for r in rows if r["action"].startswith("login")]
    assert logins == [("ana", "login"), ("dung", "login")]
    page = _doc(await (await staff.client.get("/admin/audit")).text())
    assert "dung đã đăng nhập." in _text(page, "//table")


async def test_admins_manage_users_from_the_api_and_the_page(staff: Staff) -> None:
    added = await staff.api("POST", "/users", "dung", {"name": "hoa", "role": "author"}, status=201)
    assert added["setup_link"].startswith("http://broadcaster.test/admin/setup/")
    await staff.api("POST", "/users", "binh", {"name": "x", "role": "author"}, status=403)
    changed = await staff.api("PATCH", "/users/ana", "dung", {"role": "approver"}, status=200)
    assert changed["role"] == "approver"
    await staff.api("PATCH", "/users/ana", "dung", {"disabled": True}, status=200)
    assert (
        await staff.client.get(
            "/admin/api/me", headers={"Authorization": f"Bearer {staff.tokens['ana']}"}
        )
    ).status == 401
    own = await staff.api("PATCH", "/users/dung", "dung", {"role": "author"}, status=403)
    assert "ask another admin" in own["error"]
    link = await staff.api("POST", "/users/hoa/setup-link", "dung", status=201)
    assert link["setup_link"] != added["setup_link"]

    # The same from the page.
    staff.client.session.cookie_jar.clear()
    assert (await staff.login("dung")).status == 303
    page = _doc(await (await staff.client.get("/admin/users")).text())
    csrf = _text(page, "//input[@name='csrf_token']/@value")
    enabled = await staff.client.post(
        "/admin/users/ana", data={"action": "enable", "csrf_token": csrf}, headers=ORIGIN
    )
    assert enabled.status == 200
    rows = {
        _text(row, "td[1]"): _text(row, "td[3]")
        for row in _doc(await enabled.text()).xpath("//tbody/tr")
    }
    assert rows["ana"] == "đang hoạt động"  # active
    assert rows["hoa"] == "chờ thiết lập"  # waiting for setup


async def test_an_emergency_publish_from_the_page_needs_a_reason_and_is_marked(
    staff: Staff,
) -> None:
    doc, csrf = await _signed_in(staff, "binh")
    assert doc.xpath("//button[text()='Đăng ngay']/@disabled")  # not approved yet
    revision = _text(doc, "//form//input[@name='revision']/@value")
    fields = {"revision": revision, "csrf_token": csrf, "emergency": "1"}
    refused = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/publish",
        data={**fields, "emergency_reason": " "},
        headers=ORIGIN,
    )
    assert refused.status == 422
    assert "phải có lý do" in _text(_doc(await refused.text()), "//*[@role='alert']")
    done = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/publish",
        data={**fields, "emergency_reason": "Bão số 9 (ví dụ)"},
        headers=ORIGIN,
    )
    assert done.status == 200
    assert "/admin/publications/" in str(done.url)
    page = _doc(await done.text())
    assert _text(page, "//h1//following::span[@class='emergency'][1]") == "KHẨN CẤP"
    dashboard = _doc(await (await staff.client.get("/admin/publications")).text())
    assert "Bão số 9 (ví dụ)" in _text(dashboard, "//main")
    assert "đang chờ duyệt lại" in _text(dashboard, "//main")  # awaiting review
    # The review afterwards: another approver approves the same revision.
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "chi", {"revision": revision}, status=201
    )
    dashboard = _doc(await (await staff.client.get("/admin/publications")).text())
    assert "đã được chi duyệt lại" in _text(dashboard, "//main")  # reviewed by chi
