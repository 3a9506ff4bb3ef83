"""Hostile admin request bodies get a clear 400 (a page in the staff's language, or JSON for
the API), never a 500 with a traceback: JSON nested thousands deep, a form that is not UTF-8."""

from __future__ import annotations

from tests.web.admin.conftest import ORIGIN, Staff
from tests.web.conftest import FORM, page

NESTED = b'{"id": ' + b"[" * 5000 + b"]" * 5000 + b"}"
NOT_UTF8 = b"name=ana&password=\xff\xfe\xc3"


async def test_deeply_nested_json_on_the_admin_api_is_a_400(staff: Staff) -> None:
    response = await staff.client.post(
        "/admin/api/campaigns",
        data=NESTED,
        headers={
            "Authorization": f"Bearer {staff.tokens['ana']}",
            "Content-Type": "application/json",
        },
    )
    assert response.status == 400
    assert (await response.json())["error"] == (
        "the request body is JSON nested too deeply; send a flat JSON object"
    )


async def test_an_admin_form_that_is_not_utf8_is_a_400_page_in_vietnamese(staff: Staff) -> None:
    headers = {**ORIGIN, "Content-Type": FORM}
    login = await staff.client.post("/admin/login", data=NOT_UTF8, headers=headers)
    assert login.status == 400
    assert "không đọc được biểu mẫu" in await login.text()
    # Signed in, the form is read for its CSRF token first: the same answer.
    assert (await staff.login("ana")).status == 303
    signed_in = await staff.client.post(
        "/admin/campaigns", data=b"id=x&csrf_token=\xff", headers=headers
    )
    assert signed_in.status == 400
    doc = page(await signed_in.text())
    assert "không đọc được biểu mẫu" in doc.text_content()
    assert "Traceback" not in doc.text_content()
    # In English once asked for (?lang=en, remembered in a cookie).
    english = await staff.client.post("/admin/login?lang=en", data=NOT_UTF8, headers=headers)
    assert english.status == 400
    assert "the form could not be read" in await english.text()
