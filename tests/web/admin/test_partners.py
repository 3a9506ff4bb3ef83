"""Media partners in the staff API and pages: admins only, the SSRF guard, secrets shown once,
audit entries, partner health on the dashboard, replaying a dead letter."""

from __future__ import annotations

import asyncio
import json

import lxml.html
import pytest
from lxml.html import HtmlElement
from standardwebhooks import Webhook

from tests.partners.conftest import PartnerServer
from tests.web.admin.conftest import ORIGIN, Staff, wait_for

CAMPAIGN = "support-contacts"


def _doc(body: str) -> HtmlElement:
    return lxml.html.document_fromstring(body)


def _text(doc: HtmlElement, xpath: str) -> str:
    return " ".join(str(doc.xpath(f"string({xpath})")).split())


async def _signed_in(staff: Staff, name: str) -> str:
    """Sign in as `name` in the pages; their CSRF token."""
    staff.client.session.cookie_jar.clear()
    assert (await staff.login(name)).status == 303
    page = _doc(await (await staff.client.get("/admin/publications")).text())
    return _text(page, "//input[@name='csrf_token']/@value")


async def _publish(staff: Staff, channels: list[str]) -> int:
    revision = (await staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana"))["revision"]
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=201
    )
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "chi",
        {"revision": revision, "channels": channels},
        status=201,
    )
    publication: int = published["publication"]
    return publication


async def test_only_admins_manage_partners(staff: Staff) -> None:
    for who in ("ana", "binh"):
        refused = await staff.api("GET", "/partners", who, status=403)
        assert "admin" in refused["error"]
        body = {"name": "baokh", "url": "https://baokh.example.vn/hook"}
        await staff.api("POST", "/partners", who, body, status=403)
        await staff.api("POST", "/partners/baokh/secret", who, {}, status=403)
        await staff.api("DELETE", "/partners/baokh", who, status=403)
        await staff.api("POST", "/partner-deliveries/1/replay", who, status=403)
    await _signed_in(staff, "binh")
    page = await staff.client.get("/admin/partners")
    assert page.status == 403
    assert "admin" in await page.text()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://10.0.0.1/hook", "private"),
        ("http://8.8.8.8/hook", "plain http is accepted only inside allow_networks"),
        ("https://nowhere.invalid/hook", "does not resolve"),
    ],
)
async def test_a_refused_url_gives_the_guards_reason(staff: Staff, url: str, reason: str) -> None:
    refused = await staff.api(
        "POST", "/partners", "dung", {"name": "baokh", "url": url}, status=422
    )
    assert reason in refused["error"]
    assert (await staff.api("GET", "/partners", "dung"))["partners"] == []


async def test_the_add_form_shows_the_reason_and_keeps_what_was_typed(staff: Staff) -> None:
    csrf = await _signed_in(staff, "dung")
    answer = await staff.client.post(
        "/admin/partners",
        data={
            "name": "baokh",
            "url": "https://127.0.0.1/hook",
            "topics": "online-services",
            "csrf_token": csrf,
        },
        headers=ORIGIN,
    )
    assert answer.status == 422
    page = _doc(await answer.text())
    alert = _text(page, "//*[@role='alert']")
    assert "127.0.0.1 is a loopback address" in alert
    assert "allow_networks" in alert  # and what to do about it
    assert _text(page, "//input[@name='url']/@value") == "https://127.0.0.1/hook"
    assert page.xpath("//input[@name='topics'][@value='online-services']/@checked")
    # Unknown topics and languages are named too.
    refused = await staff.api(
        "POST",
        "/partners",
        "dung",
        {"name": "baokh", "url": "https://baokh.example.vn/h", "locales": ["fr"]},
        status=422,
    )
    assert "unknown locale fr" in refused["error"]


async def test_the_secret_is_shown_once_and_signs_what_the_partner_gets(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    added = await staff.api(
        "POST",
        "/partners",
        "dung",
        {"name": "baokh", "url": server.url("baokh"), "locales": ["vi"]},
        status=201,
    )
    secret = added["secret"]
    assert secret.startswith("whsec_")
    server.secrets["baokh"] = [secret]
    listed = await staff.api("GET", "/partners", "dung")
    [row] = listed["partners"]
    assert (row["name"], row["state"], row["locales"]) == ("baokh", "enabled", ["vi"])
    publication = await _publish(staff, ["partners"])
    await wait_for(lambda: len(server.at("baokh")) == 1)
    assert server.at("baokh")[0].verified
    # Nowhere again: not in the API, the pages, the audit log or its CSV.
    csrf = await _signed_in(staff, "dung")
    seen = [
        json.dumps(await staff.api("GET", "/partners", "dung")),
        json.dumps(await staff.api("GET", "/partners/baokh", "dung")),
        json.dumps(await staff.api("GET", f"/publications/{publication}", "dung")),
        json.dumps(await staff.api("GET", "/audit", "dung")),
        await (await staff.client.get("/admin/audit.csv")).text(),
        await (await staff.client.get("/admin/partners")).text(),
        await (await staff.client.get("/admin/partners/baokh")).text(),
        await (await staff.client.get("/admin/publications")).text(),
    ]
    assert all(secret not in text for text in seen)
    assert csrf
    audit = (await staff.api("GET", "/audit", "dung"))["entries"]
    added_entry = next(e for e in audit if e["action"] == "partner.added")
    assert added_entry["actor"] == "dung"
    assert added_entry["detail"]["partner"] == "baokh"


async def test_rotate_disable_enable_remove_leave_audit_entries(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    first = await staff.api(
        "POST", "/partners", "dung", {"name": "radio", "url": server.url("radio")}, status=201
    )
    rotated = await staff.api(
        "POST", "/partners/radio/secret", "dung", {"grace_hours": 2}, status=201
    )
    assert rotated["secret"] != first["secret"]
    assert rotated["previous_secret_until"] is not None
    # During the grace period both secrets sign: a partner with either verifies.
    server.secrets["radio"] = [first["secret"]]
    publication = await _publish(staff, ["partners"])
    await wait_for(lambda: len(server.at("radio")) == 2)
    [received, *_] = server.at("radio")
    assert received.verified
    Webhook(rotated["secret"]).verify(received.body, received.headers)
    assert publication
    disabled = await staff.api("PATCH", "/partners/radio", "dung", {"enabled": False})
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "disabled by dung"
    await staff.api("PATCH", "/partners/radio", "dung", {"enabled": True})
    await staff.api("PATCH", "/partners/radio", "dung", {"enabled": "yes"}, status=422)
    assert (await staff.api("DELETE", "/partners/radio", "dung")) == {"removed": "radio"}
    missing = await staff.api("DELETE", "/partners/radio", "dung", status=404)
    assert "no partner named 'radio'" in missing["error"]
    audit = (await staff.api("GET", "/audit", "dung"))["entries"]
    entries = [e for e in audit if e["action"].startswith("partner.")]
    assert [e["action"] for e in entries] == [
        "partner.removed",
        "partner.enabled",
        "partner.disabled",
        "partner.secret-rotated",
        "partner.added",
    ]
    assert {(e["detail"]["partner"], e["actor"]) for e in entries} == {("radio", "dung")}
    text = json.dumps(audit)
    assert first["secret"] not in text
    assert rotated["secret"] not in text


async def test_rotating_in_the_page_shows_the_new_secret_once(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    csrf = await _signed_in(staff, "dung")
    added = await staff.client.post(
        "/admin/partners",
        data={"name": "tv", "url": server.url("tv"), "locales": "vi", "csrf_token": csrf},
        headers=ORIGIN,
    )
    assert added.status == 200
    page = _doc(await added.text())
    secret = _text(page, "//*[@role='status']//code")
    assert secret.startswith("whsec_")
    assert (await added.text()).count(secret) == 1
    assert secret not in await (await staff.client.get("/admin/partners")).text()
    rotated = await staff.client.post(
        "/admin/partners/tv",
        data={"action": "rotate", "grace_hours": "24", "csrf_token": csrf},
        headers=ORIGIN,
    )
    text = await rotated.text()
    new = _text(_doc(text), "//*[@role='status']//code")
    assert new.startswith("whsec_")
    assert new != secret
    assert "Khóa cũ vẫn cùng ký đến" in text  # the grace period, in Vietnamese by default
    assert new not in await (await staff.client.get("/admin/partners")).text()
    # Without the CSRF token (or from another origin) nothing changes.
    refused = await staff.client.post(
        "/admin/partners/tv", data={"action": "disable"}, headers=ORIGIN
    )
    assert refused.status == 403
    refused = await staff.client.post(
        "/admin/partners/tv",
        data={"action": "disable", "csrf_token": csrf},
        headers={"Origin": "https://elsewhere.example.vn"},
    )
    assert refused.status == 403
    assert (await staff.api("GET", "/partners", "dung"))["partners"][0]["enabled"] is True


async def test_the_dashboard_shows_health_and_replays_a_dead_letter_with_its_webhook_id(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    added = await staff.api(
        "POST",
        "/partners",
        "dung",
        {"name": "baokh", "url": server.url("baokh"), "locales": ["vi"]},
        status=201,
    )
    server.secrets["baokh"] = [added["secret"]]
    server.answers["baokh"] = [400]  # refused for good: a dead letter at once
    publication = await _publish(staff, ["partners"])
    await wait_for(lambda: len(server.at("baokh")) == 1)

    async def dead() -> list[dict[str, object]]:
        detail = await staff.api("GET", f"/publications/{publication}", "ana")
        letters: list[dict[str, object]] = detail["dead_letters"]
        return letters

    for _ in range(200):
        if await dead():
            break
        await asyncio.sleep(0.05)
    [letter] = await dead()
    assert letter["error"] == "HTTP 400 Bad Request"
    # An author sees the health (no URL, no buttons) on the delivery page.
    await _signed_in(staff, "ana")
    board = _doc(await (await staff.client.get("/admin/publications")).text())
    row = _text(board, "//table[caption[contains(., 'Tình trạng đối tác')]]//tbody/tr")
    for shown in ("baokh", "lỗi vĩnh viễn", "HTTP 400"):
        assert shown in row
    assert server.url("baokh") not in row
    health = (await staff.api("GET", "/partners", "dung"))["partners"][0]
    assert health["last_delivery"]["status"] == "permanent-failure"
    assert health["last_7_days"]["dead_lettered"] == 1
    # The admin replays it from the publication's page: the same webhook-id, verified.
    csrf = await _signed_in(staff, "dung")
    page = _doc(await (await staff.client.get(f"/admin/publications/{publication}")).text())
    [action] = page.xpath("//form[contains(@action, '/replay')]/@action")
    assert action == f"/admin/partner-deliveries/{letter['delivery']}/replay"
    replayed = await staff.client.post(
        action,
        data={"csrf_token": csrf, "next": f"/admin/publications/{publication}"},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert replayed.status == 303
    assert replayed.headers["Location"] == f"/admin/publications/{publication}?done=replayed"
    await wait_for(lambda: len(server.at("baokh")) == 2)
    first, again = server.at("baokh")
    assert again.verified
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.body == first.body
    audit = (await staff.api("GET", "/audit", "dung"))["entries"]
    assert audit[0]["action"] == "partner.replayed"
    assert audit[0]["detail"] == {"partner": "baokh", "delivery": letter["delivery"]}
    # Replaying what is not finished is refused with the reason.
    refused = await staff.api("POST", "/partner-deliveries/999999/replay", "dung", status=404)
    assert "no webhook delivery 999999" in refused["error"]


async def test_a_partner_disabled_by_410_is_shown_clearly(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    added = await staff.api(
        "POST", "/partners", "dung", {"name": "closed", "url": server.url("closed")}, status=201
    )
    server.secrets["closed"] = [added["secret"]]
    server.answers["closed"] = [410, 410]
    await _publish(staff, ["partners"])

    async def state() -> str:
        found: str = (await staff.api("GET", "/partners", "dung"))["partners"][0]["state"]
        return found

    for _ in range(400):
        if await state() == "gone":
            break
        await asyncio.sleep(0.05)
    assert await state() == "gone"
    await _signed_in(staff, "dung")
    page = _doc(await (await staff.client.get("/admin/partners?lang=en")).text())
    row = _text(page, "//table//tbody/tr")
    assert "gone" in row
    assert "The endpoint answered 410 Gone" in row
