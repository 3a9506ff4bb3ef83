"""The real per-IP and per-address limits: 429 with Retry-After, readable as a page or JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.settings import Settings, SettingsError
from broadcaster.text.strings import text
from broadcaster.web.subscriptions import PER_ADDRESS, PER_IP, Limits
from tests.conftest import copy_workspace
from tests.web.conftest import FORM, TOPIC, Site, Start, form_body, heading, page, running


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


async def _subscribe_via(site: Site, email: str, forwarded_for: str) -> int:
    response = await site.client.post(
        "/subscribe",
        data=form_body(fields(email)),
        headers={"Content-Type": FORM, "X-Forwarded-For": forwarded_for},
    )
    return response.status


async def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(tmp_path: Path) -> None:
    """With the proxy (here the test client's 127.0.0.1) trusted, visitors are told apart by
    X-Forwarded-For: one reaching the limit does not hold back the next, and writing a
    made-up address in front of the proxy's entry does not reset one's own."""
    trusted = {"BROADCASTER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}
    async with running(copy_workspace(tmp_path / "ws"), Limits(), trusted) as site:
        for number in range(PER_IP.burst):
            status = await _subscribe_via(site, f"a{number}@example.vn", "203.0.113.5")
            assert status == 200
        assert await _subscribe_via(site, "a.more@example.vn", "203.0.113.5") == 429
        # The same visitor through a second proxy hop (10.0.0.7, trusted), with a forged
        # address in front: still 203.0.113.5.
        chain = "198.51.100.9, 203.0.113.5, 10.0.0.7"
        assert await _subscribe_via(site, "forged@example.vn", chain) == 429
        assert await _subscribe_via(site, "neighbour@example.vn", "203.0.113.6") == 200
        assert await site.sent_to("a.more@example.vn") == []
        assert len(await site.sent_to("neighbour@example.vn")) == 1


async def test_without_trusted_proxies_x_forwarded_for_is_ignored(start: Start) -> None:
    """Nobody dodges the per-IP limit by sending a new X-Forwarded-For each time."""
    async with start(Limits()) as site:
        for number in range(PER_IP.burst):
            status = await _subscribe_via(site, f"b{number}@example.vn", f"203.0.113.{number}")
            assert status == 200
        assert await _subscribe_via(site, "b.more@example.vn", "198.51.100.77") == 429


def test_a_bad_trusted_proxy_setting_names_the_variable_and_the_fix(tmp_path: Path) -> None:
    environ = {"BROADCASTER_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example.gov.vn"}
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ(tmp_path, environ)
    message = str(raised.value)
    assert "BROADCASTER_TRUSTED_PROXIES" in message
    assert "'proxy.example.gov.vn' is not an address or network" in message
    assert "like 127.0.0.1, 10.0.0.0/8, ::1" in message


async def test_ipv6_visitors_share_a_limit_per_64_network(tmp_path: Path) -> None:
    """One IPv6 line is given a whole /64: hopping to another address in it does not reset
    the limit, while a visitor in the next /64 has their own."""
    trusted = {"BROADCASTER_TRUSTED_PROXIES": "127.0.0.1"}
    async with running(copy_workspace(tmp_path / "ws"), Limits(), trusted) as site:
        for number in range(PER_IP.burst):
            visitor = f"2001:db8:1:2::{number + 1:x}"  # a new address every time
            assert await _subscribe_via(site, f"v{number}@example.vn", visitor) == 200
        assert await _subscribe_via(site, "v.more@example.vn", "2001:db8:1:2:ffff::9") == 429
        assert await _subscribe_via(site, "next@example.vn", "2001:db8:1:3::1") == 200
        assert await site.sent_to("v.more@example.vn") == []
