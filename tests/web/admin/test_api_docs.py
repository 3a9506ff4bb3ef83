"""/admin/api/docs: the OpenAPI document for people, rendered here with nothing from elsewhere."""

from __future__ import annotations

import lxml.html

from broadcaster.web.admin.routes import ROUTES
from tests.web.admin.conftest import Staff


async def test_the_api_is_documented_for_people_without_a_cdn(staff: Staff) -> None:
    answer = await staff.client.get("/admin/api/docs?lang=en")
    assert answer.status == 200
    assert answer.content_type == "text/html"
    page = lxml.html.document_fromstring(await answer.text())

    def text(xpath: str) -> str:
        return " ".join(str(page.xpath(f"string({xpath})")).split())

    assert page.xpath("count(//section/h2)") == len(ROUTES)
    section = "//section[@id='post-admin-api-campaigns--campaign--approvals']"
    assert text(f"{section}/h2") == "POST /admin/api/campaigns/{campaign}/approvals"
    assert "Approve a revision" in text(section)
    assert "Needs the role: approver" in text(section)
    assert '"revision"' in text(section)  # the body's schema
    # Every script, style and link stays on this site.
    assert page.xpath("count(//script[@src] | //link[@href] | //img[@src])") == page.xpath(
        "count(//script[starts-with(@src, '/')] | //link[starts-with(@href, '/')]"
        " | //img[starts-with(@src, '/')])"
    )
    vietnamese = await (await staff.client.get("/admin/api/docs?lang=vi")).text()
    assert "Cần vai trò: người duyệt" in vietnamese
