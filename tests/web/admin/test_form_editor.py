"""The campaign form editor without a browser: fields in, the same files out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import aiohttp
import lxml.html
import yaml
from lxml.html import HtmlElement

from broadcaster.web.admin.i18n import translations
from tests.web.admin.conftest import ORIGIN, PASSWORD, Staff

CAMPAIGN = "support-contacts"


def _doc(body: str) -> HtmlElement:
    return lxml.html.document_fromstring(body)


def _text(doc: HtmlElement, xpath: str) -> str:
    return " ".join(str(doc.xpath(f"string({xpath})")).split())


async def _editor(staff: Staff, name: str, campaign: str = CAMPAIGN) -> HtmlElement:
    staff.client.session.cookie_jar.clear()
    assert (await staff.login(name)).status == 303
    answer = await staff.client.get(f"/admin/campaigns/{campaign}")
    assert answer.status == 200, await answer.text()
    return _doc(await answer.text())


def form_fields(doc: HtmlElement) -> list[tuple[str, str]]:
    """What the browser would send for the editor form (checked boxes only, no files)."""
    form = doc.get_element_by_id("campaign-form")
    pairs = []
    for element in form.xpath(".//input|.//textarea|.//select"):
        name = element.get("name")
        kind = element.get("type", "")
        if not name or kind == "file" or element.tag == "button":
            continue
        if kind == "checkbox":
            if element.get("checked") is not None:
                pairs.append((name, element.get("value", "on")))
        elif element.tag == "textarea":
            pairs.append((name, element.text or ""))
        elif element.tag == "select":
            chosen = element.xpath("./option[@selected]/@value") or element.xpath("./option/@value")
            pairs.append((name, str(chosen[0])))
        else:
            pairs.append((name, element.get("value", "")))
    return pairs


async def test_the_form_shows_the_campaign_fields(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    assert doc.get_element_by_id("vi-title").get("value").startswith("Đầu mối hỗ trợ")
    checked = doc.xpath("//input[@name='topics'][@checked]/@value")
    assert sorted(checked) == ["online-services", "support-contacts"]
    assert doc.xpath("//input[@name='contacts-0-phone']/@value") == ["0258 000 0001"]


async def test_saving_the_form_unchanged_leaves_the_files_byte_for_byte(staff: Staff) -> None:
    folder = staff.service.settings.root / "campaigns" / CAMPAIGN
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    doc = await _editor(staff, "ana")
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}", data=form_fields(doc), headers=ORIGIN, allow_redirects=False
    )
    assert answer.status == 303, await answer.text()
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


NEW = "storm-helpline"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _set(
    pairs: list[tuple[str, str]], changes: Mapping[str, str | list[str]]
) -> list[tuple[str, str]]:
    """The form's fields with `changes` applied (a list value replaces every field of a name)."""
    kept = [(k, v) for k, v in pairs if k not in changes]
    for name, value in changes.items():
        kept += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return kept


async def _post(staff: Staff, campaign: str, pairs: list[tuple[str, str]], **kw: object) -> str:
    answer = await staff.client.post(f"/admin/campaigns/{campaign}", data=pairs, headers=ORIGIN)
    return await answer.text()


async def _new_campaign(staff: Staff) -> HtmlElement:
    doc = await _editor(staff, "ana")
    csrf = str(doc.xpath("string(//input[@name='csrf_token']/@value)"))
    created = await staff.client.post(
        "/admin/campaigns", data={"id": NEW, "csrf_token": csrf}, headers=ORIGIN
    )
    assert created.status == 200
    return _doc(await created.text())


def _multipart(pairs: list[tuple[str, str]], name: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # as browsers send a file name: UTF-8
    for key, value in pairs:
        form.add_field(key, value)
    form.add_field("upload", data, filename=name, content_type="application/octet-stream")
    return form


async def test_an_author_writes_a_campaign_with_fields_tables_and_a_pdf(staff: Staff) -> None:
    doc = await _new_campaign(staff)
    pairs = form_fields(doc)
    # A contacts row, added without JavaScript, then the table put in both bodies by a button.
    doc = _doc(await _post(staff, NEW, [*pairs, ("row_op", "contacts:add")]))
    row = {
        "contacts-0-name": "Tổ hỗ trợ mẫu (ví dụ)",
        "contacts-0-phone": "0258 000 0000",
        "contacts-0-email": "hotro@example.gov.vn",
        "contacts-0-en-name": "Sample support team (example)",
    }
    pairs = _set(form_fields(doc), row)
    doc = _doc(await _post(staff, NEW, [*pairs, ("insert", "vi:contacts-table")]))
    doc = _doc(await _post(staff, NEW, [*form_fields(doc), ("insert", "en:contacts-table")]))
    pairs = _set(
        form_fields(doc),
        {
            "vi.title": "Đường dây hỗ trợ mùa bão",
            "vi.summary": "Số điện thoại hỗ trợ trong mùa mưa bão (số mẫu).",
            "en.title": "Storm season helpline",
            "en.summary": "Helpline numbers for the storm season (sample numbers).",
            "topics": ["support-contacts", "one-stop-counters"],
            "expires": "2027-01-31T17:00",
            "reference": "01/TB-MAU",
        },
    )
    assert "{% for c in data.contacts" in dict(pairs)["vi.body"]
    answer = await staff.client.post(
        f"/admin/campaigns/{NEW}",
        data=_multipart(pairs, "Công văn mẫu.pdf", PDF),
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    folder = staff.service.settings.root / "campaigns" / NEW
    assert (folder / "files" / "Cong-van-mau.pdf").read_bytes() == PDF
    meta = yaml.safe_load((folder / "campaign.yaml").read_text("utf-8"))
    assert sorted(meta["topics"]) == ["one-stop-counters", "support-contacts"]
    assert meta["expires"].isoformat() == "2027-01-31T17:00:00+07:00"
    assert meta["data"]["contacts"] == [
        {
            "name": "Tổ hỗ trợ mẫu (ví dụ)",
            "unit": "",
            "phone": "0258 000 0000",
            "email": "hotro@example.gov.vn",
            "hours": "",
            "en": {"name": "Sample support team (example)"},
        }
    ]
    campaign = staff.service.live.workspace.campaigns[NEW]  # it passed `check`
    assert campaign.reference == "01/TB-MAU"
    assert campaign.attachments == (f"campaigns/{NEW}/files/Cong-van-mau.pdf",)
    page = _doc(await (await staff.client.get(f"/admin/campaigns/{NEW}")).text())
    assert page.xpath("//input[@name='contacts-0-phone']/@value") == ["0258 000 0000"]
    assert "Cong-van-mau.pdf" in _text(page, "//fieldset[@id='attachments']")


async def test_a_check_error_is_shown_next_to_its_field_in_vietnamese(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"expires": "2021-01-01T00:00"})  # before valid_from
    answer = await staff.client.post(f"/admin/campaigns/{CAMPAIGN}", data=pairs, headers=ORIGIN)
    page = _doc(await answer.text())
    error = page.xpath("//input[@id='expires']/following-sibling::*[@class='field-error']")
    assert [" ".join(e.text_content().split()) for e in error] == [
        "thời điểm hết hiệu lực phải sau thời điểm có hiệu lực"
    ]
    assert page.get_element_by_id("expires").get("aria-invalid") == "true"
    # Fixed, the error is gone.
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}",
        data=_set(form_fields(page), {"expires": "2030-01-01T00:00"}),
        headers=ORIGIN,
    )
    assert not _doc(await answer.text()).xpath("//*[@class='field-error']")


async def test_a_file_of_the_wrong_type_is_refused_and_the_text_kept(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"vi.title": "Tiêu đề mới chưa lưu"})
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}",
        data=_multipart(pairs, "notes.pdf", b"plain text, not a PDF"),
        headers=ORIGIN,
    )
    assert answer.status == 422
    page = _doc(await answer.text())
    assert _text(page, "//fieldset[@id='attachments']//*[@role='alert']") == (
        "notes.pdf: nội dung không phải tệp PDF"
    )
    assert page.get_element_by_id("vi-title").get("value") == "Tiêu đề mới chưa lưu"
    folder = staff.service.settings.root / "campaigns" / CAMPAIGN
    assert "Tiêu đề mới chưa lưu" not in (folder / "vi.md").read_text("utf-8")


async def test_a_save_after_the_session_expired_returns_after_signing_in(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"vi.summary": "Đoạn tóm tắt gõ lúc phiên đã hết hạn."})
    staff.client.session.cookie_jar.clear()  # the session expired while she typed
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}", data=pairs, headers=ORIGIN, allow_redirects=False
    )
    assert answer.status == 303
    login = answer.headers["Location"]
    assert login.startswith("/admin/login?next=")
    page = _doc(await (await staff.client.get(login)).text())
    assert "đã được giữ lại" in _text(page, "//*[@role='status']")
    signed = await staff.client.post(
        "/admin/login",
        data={
            "name": "ana",
            "password": PASSWORD,
            "next": page.xpath("string(//input[@name='next']/@value)"),
        },
        headers=ORIGIN,
        allow_redirects=False,
    )
    back = signed.headers["Location"]
    assert back.startswith(f"/admin/campaigns/{CAMPAIGN}?draft=")
    editor = _doc(await (await staff.client.get(back)).text())
    assert _text(editor, "//textarea[@id='vi-summary']") == "Đoạn tóm tắt gõ lúc phiên đã hết hạn."
    folder = staff.service.settings.root / "campaigns" / CAMPAIGN
    assert "phiên đã hết hạn" not in (folder / "vi.md").read_text("utf-8")  # not saved yet
    saved = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}", data=form_fields(editor), headers=ORIGIN
    )
    assert saved.status == 200
    assert "phiên đã hết hạn" in (folder / "vi.md").read_text("utf-8")


async def test_an_autosaved_draft_is_offered_back(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"en.title": "Typed, never saved"})
    kept = await staff.client.post(f"/admin/campaigns/{CAMPAIGN}/draft", data=pairs, headers=ORIGIN)
    assert (await kept.json()) == {"kept": True}
    page = _doc(await (await staff.client.get(f"/admin/campaigns/{CAMPAIGN}")).text())
    assert page.xpath("//a[contains(@href, 'restore=1')]")
    restored = _doc(await (await staff.client.get(f"/admin/campaigns/{CAMPAIGN}?restore=1")).text())
    assert restored.get_element_by_id("en-title").get("value") == "Typed, never saved"


async def test_two_people_editing_at_once_get_a_conflict_view(staff: Staff) -> None:
    ana = form_fields(await _editor(staff, "ana"))
    chi = form_fields(await _editor(staff, "chi"))
    chi = _set(chi, {"en.title": "Chi's title"})
    assert (
        await staff.client.post(f"/admin/campaigns/{CAMPAIGN}", data=chi, headers=ORIGIN)
    ).status == 200
    ana_doc = await _editor(staff, "ana")
    csrf = str(ana_doc.xpath("string(//input[@name='csrf_token']/@value)"))
    mine = _set(ana, {"vi.title": "Tiêu đề của Ana", "csrf_token": csrf})
    answer = await staff.client.post(f"/admin/campaigns/{CAMPAIGN}", data=mine, headers=ORIGIN)
    assert answer.status == 409
    page = _doc(await answer.text())
    conflict = _text(page, "//*[@id='conflict']")
    assert "Người khác đã lưu chiến dịch này" in conflict
    assert "+title: Tiêu đề của Ana" in conflict
    assert "Chi's title" in conflict
    assert page.get_element_by_id("vi-title").get("value") == "Tiêu đề của Ana"
    folder = staff.service.settings.root / "campaigns" / CAMPAIGN
    assert "Chi's title" in (folder / "en.md").read_text("utf-8")  # nothing overwritten
    overwrite = str(page.xpath("string(//button[@name='overwrite']/@value)"))
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}",
        data=[*form_fields(page), ("overwrite", overwrite)],
        headers=ORIGIN,
    )
    assert answer.status == 200
    assert "Tiêu đề của Ana" in (folder / "vi.md").read_text("utf-8")


async def test_refusals_and_missing_pages_are_in_vietnamese(staff: Staff) -> None:
    await _editor(staff, "ana")
    for path, status, expected in [
        ("/admin/audit", 403, "/admin/audit cần vai trò quản trị; bạn đang có vai trò người soạn"),
        ("/admin/campaigns/nope", 404, "không có chiến dịch 'nope'"),
        ("/admin/no-such-page", 404, "trang này không tồn tại"),
    ]:
        answer = await staff.client.get(path)
        assert answer.status == status
        assert expected in _text(_doc(await answer.text()), "//*[@role='alert']")


def _visible_vietnamese_text(doc: HtmlElement) -> str:
    """The page's text a person reads, leaving out English content, code and what was typed."""
    for element in doc.xpath(
        "//*[@lang='en'] | //code | //pre | //textarea | //script | //style | //header//a[@hreflang]"
    ):
        element.drop_tree()
    return " ".join(doc.text_content().split())


def _english_ui_strings() -> list[str]:
    vi = translations("vi")
    messages = getattr(vi, "_messages", {})
    return [
        re.split(r"%\(\w+\)s", msgid)[0].strip()
        for msgid, msgstr in messages.items()
        if msgstr != msgid and len(msgid.split()) >= 3
    ]


async def test_vietnamese_pages_show_no_untranslated_strings(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    broken = _set(form_fields(doc), {"expires": "2021-01-01T00:00", "vi.title": ""})
    pages = [await _post(staff, CAMPAIGN, broken)]
    for path in (
        f"/admin/campaigns/{CAMPAIGN}",
        f"/admin/campaigns/{CAMPAIGN}?view=advanced",
        "/admin/campaigns",
        "/admin/audit",
        "/admin/campaigns/nope",
        "/admin/nowhere",
    ):
        pages.append(await (await staff.client.get(path)).text())
    english = [s for s in _english_ui_strings() if len(s.split()) >= 3]
    leaks = {
        phrase
        for page in pages
        for phrase in [*english, "needs the", "you are", "is required", "must be", "Not Found"]
        if phrase in _visible_vietnamese_text(_doc(page))
    }
    assert leaks == set()
    first = _visible_vietnamese_text(_doc(pages[0]))
    assert "tiêu đề không được để trống" in first  # the problems were there to be read


async def test_a_kept_draft_comes_back_only_in_the_browser_that_kept_it(staff: Staff) -> None:
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"vi.summary": "Văn bản do người khác gài vào."})
    staff.client.session.cookie_jar.clear()
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}", data=pairs, headers=ORIGIN, allow_redirects=False
    )
    link = parse_qs(urlsplit(answer.headers["Location"]).query)["next"][0]
    assert link.startswith(f"/admin/campaigns/{CAMPAIGN}?draft=")
    staff.client.session.cookie_jar.clear()  # another browser, given only the link
    assert (await staff.login("ana")).status == 303
    page = _doc(await (await staff.client.get(link)).text())
    assert "gài vào" not in _text(page, "//textarea[@id='vi-summary']")


async def test_a_save_from_a_page_of_an_ended_session_keeps_the_text(staff: Staff) -> None:
    """The page was open while its session ended and she signed in again elsewhere: its
    security token is stale, yet the text is kept, not refused."""
    doc = await _editor(staff, "ana")
    pairs = _set(form_fields(doc), {"vi.summary": "Gõ trong trang cũ."})
    staff.client.session.cookie_jar.clear()
    assert (await staff.login("ana")).status == 303  # a new session (a new CSRF token)
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}", data=pairs, headers=ORIGIN, allow_redirects=False
    )
    assert answer.status == 303  # straight back to the editor: she is signed in already
    assert answer.headers["Location"].startswith(f"/admin/campaigns/{CAMPAIGN}?draft=")
    page = _doc(await (await staff.client.get(answer.headers["Location"])).text())
    assert _text(page, "//textarea[@id='vi-summary']") == "Gõ trong trang cũ."
    # Anything else with a stale token is still refused.
    refused = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/review",
        data={"action": "request", "csrf_token": "stale"},
        headers=ORIGIN,
    )
    assert refused.status == 403
