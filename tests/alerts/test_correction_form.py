"""The publish form offers the correction choice once an earlier revision is out, in
Vietnamese by default; a minor correction chosen there emails nobody."""

from __future__ import annotations

import lxml.html

from tests.alerts.conftest import CAMPAIGN, Rig, edit
from tests.web.admin.conftest import ORIGIN, wait_delivered


async def _form(rig: Rig) -> lxml.html.HtmlElement:
    page = await rig.staff.client.get(f"/admin/campaigns/{CAMPAIGN}")
    return lxml.html.document_fromstring(await page.text())


async def test_the_publish_form_asks_minor_or_material_for_a_correction(rig: Rig) -> None:
    assert (await rig.staff.login("binh")).status == 303
    assert not (await _form(rig)).xpath("//input[@name='correction']")  # nothing out yet
    body = await rig.staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana", status=200)
    request = {"revision": body["revision"], "channels": ["website", "citizens"]}
    await rig.staff.api("POST", f"/campaigns/{CAMPAIGN}/publications", "binh", request)

    edit(rig.root, "vi", "Bộ phận Một cửa", "Bộ phận Một cửa các cấp", "Sửa lỗi.")
    assert await rig.staff.service.reload()
    doc = await _form(rig)
    form = doc.xpath("//form[.//input[@name='correction']]")[0]
    legend = " ".join(form.xpath("string(.//fieldset/fieldset/legend)").split())
    assert legend == "Đây là bản đính chính của bản đã đăng"
    choices = form.xpath(".//input[@name='correction']")
    assert [c.get("value") for c in choices] == ["material", "minor"]
    assert choices[0].get("checked") is not None  # material unless staff say otherwise
    labels = [" ".join(c.getparent().text_content().split()) for c in choices]
    assert labels[1].startswith("Đính chính nhỏ: cập nhật trang thông tin")

    before = len(rig.mail())
    answer = await rig.staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/publish",
        data={
            "csrf_token": form.xpath("string(.//input[@name='csrf_token']/@value)"),
            "revision": form.xpath("string(.//input[@name='revision']/@value)"),
            "correction": "minor",
        },
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    publication = int(answer.headers["Location"].split("/")[-1].split("?")[0])
    await wait_delivered(rig.staff, publication, {"website": 1})
    detail = await rig.staff.api("GET", f"/publications/{publication}", "ana")
    assert "citizens" not in detail["channels"]
    assert len(rig.mail()) == before
