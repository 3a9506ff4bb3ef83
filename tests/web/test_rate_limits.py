"""The real per-IP and per-address limits: 429 with Retry-After, readable as a page or JSON."""

from __future__ import annotations

from broadcaster.strings import text
from broadcaster.web.subscriptions import PER_ADDRESS, PER_IP, Limits

from .conftest import TOPIC, Start, heading, page


def fields(email: str) -> dict[str, str | list[str]]:
    return {"email": email, "locale": "en", "topics": [TOPIC], "frequency": "daily"}


async def test_one_ip_gets_429_after_its_burst(start: Start) -> None:
    async with start(Limits()) as site:
        for number in range(PER_IP.burst):
            response = await site.subscribe(fields(f"person{number}@example.vn"))
            assert response.status == 200
        response = await site.subscribe(fields("one.more@example.vn"))
        assert response.status == 429
        wait = int(response.headers["Retry-After"])
        assert 0 < wait <= PER_IP.period / PER_IP.burst
        doc = page(await response.text())
        assert doc.get("lang") == "en"
        assert heading(doc) == text("sub_too_many_title", "en")
        assert text("sub_too_many", "en").format(seconds=wait) in doc.text_content()
        # JSON clients get the same limit, as JSON.
        response = await site.client.post("/subscribe", json=fields("api@example.vn"))
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 0
        assert set((await response.json())["errors"]) == {"rate"}
        assert await site.sent_to("one.more@example.vn") == []


async def test_one_address_gets_429_after_its_burst_whatever_its_case(start: Start) -> None:
    limits = Limits(per_address=PER_ADDRESS)  # the real per-address limit, a loose per-IP one
    assert limits.per_ip.burst > PER_ADDRESS.burst
    async with start(limits) as site:
        for _ in range(PER_ADDRESS.burst):
            response = await site.subscribe(fields("target@example.vn"))
            assert response.status == 200
        response = await site.subscribe(fields("Target@EXAMPLE.vn"))
        assert response.status == 429
        assert int(response.headers["Retry-After"]) > 60
        # Someone else from the same place is not held back.
        assert (await site.subscribe(fields("other@example.vn"))).status == 200
