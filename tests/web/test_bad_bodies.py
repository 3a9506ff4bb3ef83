"""Hostile request bodies get a clear 400, never a 500 with a traceback, and still count
against the rate limit: JSON nested thousands deep on /subscribe and the admin API, bytes
that are not UTF-8 in an admin form. Real HTTP through the app `serve` runs."""

from __future__ import annotations

import pytest

from broadcaster.text.strings import text
from broadcaster.web.subscriptions import PER_IP, Limits
from tests.web.conftest import FORM, Site, Start, confirmed, heading, main_text, page

pytestmark = pytest.mark.asyncio(loop_scope="module")

NESTED = b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}"
NOT_UTF8 = b"email=a%40example.vn&topics=\xff\xfe"


@pytest.mark.parametrize("locale", ["vi", "en"])
async def test_deeply_nested_json_on_subscribe_is_a_400_in_the_readers_language(
    start: Start, locale: str
) -> None:
    async with start(Limits()) as site:
        response = await site.client.post(
            f"/subscribe?lang={locale}",
            data=NESTED,
            headers={"Content-Type": "application/json"},
        )
        assert response.status == 400
        assert await response.json() == {"errors": {"body": text("sub_error_nested", locale)}}


async def test_bad_bodies_are_rate_limited_like_other_requests(start: Start) -> None:
    async with start(Limits()) as site:
        for _ in range(PER_IP.burst):
            response = await site.client.post(
                "/subscribe", data=NESTED, headers={"Content-Type": "application/json"}
            )
            assert response.status == 400
        limited = await site.client.post(
            "/subscribe", data=NESTED, headers={"Content-Type": "application/json"}
        )
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) > 0
        # A form with bytes that are not UTF-8 counts the same way.
        form = await site.client.post(
            "/subscribe?lang=vi", data=NOT_UTF8, headers={"Content-Type": FORM}
        )
        assert form.status == 429
        assert heading(page(await form.text())) == text("sub_too_many_title", "vi")


async def test_deeply_nested_json_on_the_preferences_page_is_a_400(site: Site) -> None:
    subscriber = await confirmed(site, "nested@example.vn", locale="vi")
    response = await site.client.post(
        site.link("preferences", subscriber),
        data=NESTED,
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    assert text("sub_error_nested", "vi") in main_text(page(await response.text()))
