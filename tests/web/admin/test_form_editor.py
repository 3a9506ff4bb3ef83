"""The campaign form editor without a browser: fields in, the same files out."""

from __future__ import annotations

import lxml.html
from lxml.html import HtmlElement

from tests.web.admin.conftest import ORIGIN, Staff

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
