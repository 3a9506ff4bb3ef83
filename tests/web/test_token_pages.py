"""The pages a link in an email opens: confirm, unsubscribe (RFC 8058), preferences, delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urljoin

import pytest
from aiohttp import ClientResponse
from lxml.html import FormElement, HtmlElement

from broadcaster.subscribers.api import SubscriberStatus, TokenPurpose
from broadcaster.subscribers.tokens import SignedTokens
from broadcaster.text.strings import text
from tests.web.conftest import (
    FORM,
    TOPIC,
    Site,
    confirmed,
    form_body,
    heading,
    main_text,
    page,
    status_of,
    subscribed,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def read_page(response: ClientResponse, status: int = 200) -> HtmlElement:
    body = await response.text()
    assert response.status == status, body[:2000]
    return page(body)


def post_form(doc: HtmlElement) -> FormElement:
    [form] = [f for f in doc.forms if f.method == "POST"]
    return form


async def submit(site: Site, page_path: str, form: FormElement) -> ClientResponse:
    """Submit `form` as a browser would from the page at `page_path`."""
    target = urljoin(f"http://host{page_path}", form.action or "")
    path = target.removeprefix("http://host")
    return await site.client.post(
        path,
        data=urlencode(form.form_values()),
        headers={"Content-Type": FORM},
        allow_redirects=False,
    )


def private(response: ClientResponse) -> None:
    """Token pages are never cached and never leak their URL as a Referer."""
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


# --- confirm -------------------------------------------------------------------------------


async def test_opening_the_confirmation_link_shows_a_button_and_confirms_nothing(
    site: Site,
) -> None:
    subscriber = await subscribed(site, "scanner@example.vn", "en")
    path = await site.confirm_path("scanner@example.vn")
    for _ in range(2):  # a link scanner, then the person
        response = await site.client.get(path)
        doc = await read_page(response)
        private(response)
    assert doc.get("lang") == "en"
    assert heading(doc) == text("sub_confirm_title", "en")
    form = post_form(doc)
    assert " ".join(form.xpath("string(.//button)").split()) == text("sub_confirm_button", "en")
    assert await status_of(site, subscriber.id) == SubscriberStatus.PENDING

    done = await read_page(await submit(site, path, form))
    assert heading(done) == text("sub_confirmed_title", "en")
    assert await status_of(site, subscriber.id) == SubscriberStatus.CONFIRMED


async def test_confirming_twice_is_fine_and_links_to_the_preferences(site: Site) -> None:
    await subscribed(site, "twice@example.vn")
    path = await site.confirm_path("twice@example.vn")
    first = await read_page(await site.client.post(path))
    second = await read_page(await site.client.post(path))
    assert heading(first) == heading(second) == text("sub_confirmed_title", "vi")
    [link] = second.xpath(f"//main//a[normalize-space()='{text('sub_preferences_link', 'vi')}']")
    preferences = await read_page(await site.client.get(urljoin(path, link.get("href"))))
    assert heading(preferences) == text("sub_preferences_title", "vi")
    assert "twice@example.vn" in main_text(preferences)


async def test_an_expired_confirmation_link_says_so_and_points_to_the_form(site: Site) -> None:
    subscriber = await subscribed(site, "late@example.vn", "en")
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    old = SignedTokens(site.settings.secret_key, clock=lambda: eight_days_ago)
    path = f"/confirm/{old.make('confirm', subscriber.id, subscriber.token_version)}"
    for method in ("GET", "POST"):
        doc = await read_page(await site.client.request(method, path), status=410)
        assert heading(doc) == text("sub_expired_title", "vi")
        assert doc.xpath("//main//a[contains(@href, '#subscribe')]")
    assert await status_of(site, subscriber.id) == SubscriberStatus.PENDING


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe", "preferences"])
async def test_a_tampered_or_superseded_link_is_400_with_an_explanation(
    site: Site, purpose: TokenPurpose
) -> None:
    subscriber = await subscribed(site, f"tamper.{purpose}@example.vn")
    genuine = site.link(purpose, subscriber).rsplit("/", 1)[1]
    tampered = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")
    other_purpose: TokenPurpose = "unsubscribe" if purpose != "unsubscribe" else "confirm"
    wrong_purpose = site.link(other_purpose, subscriber).rsplit("/", 1)[1]
    # Signed for the next token version: what the token of an older version looks like
    # once the version is bumped.
    newer = site.link(purpose, subscriber, subscriber.token_version + 1).rsplit("/", 1)[1]
    for token in (tampered, wrong_purpose, newer, "x" * 600, "nonsense"):
        for method in ("GET", "POST"):
            response = await site.client.request(
                method, f"/{purpose}/{token}?lang=en", data=b"List-Unsubscribe=One-Click"
            )
            doc = await read_page(response, status=400)
            assert heading(doc) == text("sub_invalid_title", "en")
            private(response)
    assert await status_of(site, subscriber.id) == SubscriberStatus.PENDING


# --- unsubscribe ---------------------------------------------------------------------------


async def test_one_click_unsubscribe_is_200_without_redirect_or_cookie_and_idempotent(
    site: Site,
) -> None:
    subscriber = await confirmed(site, "oneclick@example.vn", "en")
    path = site.link("unsubscribe", subscriber)
    site.client.session.cookie_jar.clear()
    for _ in range(2):
        response = await site.client.post(
            path,
            data=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": FORM},
            allow_redirects=False,
        )
        doc = await read_page(response)
        assert "Location" not in response.headers
        private(response)
        assert heading(doc) == text("sub_unsubscribed_title", "en")
        assert await status_of(site, subscriber.id) == SubscriberStatus.UNSUBSCRIBED
    data = await site.subscriptions.store.export_data(subscriber.id)
    assert data is not None
    assert [c["form"] for c in data["consents"] if c["action"] == "unsubscribe"] == ["one-click"]


async def test_opening_the_unsubscribe_link_only_shows_a_button(site: Site) -> None:
    subscriber = await confirmed(site, "looking@example.vn")
    path = site.link("unsubscribe", subscriber)
    response = await site.client.get(path)
    doc = await read_page(response)
    private(response)
    assert heading(doc) == text("sub_unsubscribe_title", "vi")
    assert await status_of(site, subscriber.id) == SubscriberStatus.CONFIRMED

    done = await read_page(await submit(site, path, post_form(doc)))
    assert heading(done) == text("sub_unsubscribed_title", "vi")
    assert await status_of(site, subscriber.id) == SubscriberStatus.UNSUBSCRIBED
    again = await read_page(await site.client.get(path))
    assert text("sub_already_unsubscribed", "vi") in main_text(again)


# --- preferences ---------------------------------------------------------------------------


async def test_changed_preferences_are_saved_and_shown(site: Site) -> None:
    subscriber = await confirmed(site, "prefs@example.vn")
    path = site.link("preferences", subscriber)
    response = await site.client.get(path)
    doc = await read_page(response)
    private(response)
    form = post_form(doc)
    assert form.form_values() == [
        ("topics", TOPIC),
        ("frequency", "immediate"),
        ("locale", "vi"),
    ]
    for box in form.inputs:
        if box.get("type") == "checkbox":
            box.checked = box.get("value") in ("support-contacts", "commune-support")
        elif box.get("name") == "frequency":
            box.checked = box.get("value") == "weekly"
        elif box.get("name") == "locale":
            box.checked = box.get("value") == "en"
    saved = await read_page(await submit(site, path, form))
    assert saved.get("lang") == "en"  # the new language
    assert text("sub_saved", "en") in main_text(saved)
    current = await site.subscriptions.store.get(subscriber.id)
    assert current is not None
    assert (current.topics, str(current.frequency), current.locale) == (
        ("support-contacts", "commune-support"),
        "weekly",
        "en",
    )
    again = await read_page(await site.client.get(path))
    assert post_form(again).form_values() == [
        ("topics", "support-contacts"),
        ("topics", "commune-support"),
        ("frequency", "weekly"),
        ("locale", "en"),
    ]


async def test_invalid_preferences_are_named_and_nothing_changes(site: Site) -> None:
    subscriber = await confirmed(site, "prefs.bad@example.vn", "en")
    path = site.link("preferences", subscriber)
    response = await site.client.post(
        path,
        data=form_body({"topics": [], "frequency": "hourly", "locale": "en"}),
        headers={"Content-Type": FORM},
    )
    doc = await read_page(response, status=400)
    summary = " ".join(doc.xpath("string(//*[@role='alert'])").split())
    assert text("sub_error_topics_none", "en") in summary
    assert text("sub_error_frequency", "en") in summary
    current = await site.subscriptions.store.get(subscriber.id)
    assert current == subscriber


async def test_download_my_data_is_a_json_attachment_with_the_address(site: Site) -> None:
    subscriber = await confirmed(site, "mine@example.vn")
    path = site.link("preferences", subscriber)
    doc = await read_page(await site.client.get(path))
    [link] = doc.xpath(f"//a[normalize-space()='{text('sub_download', 'vi')}']")
    response = await site.client.get(urljoin(path, link.get("href")))
    assert response.status == 200
    private(response)
    assert response.content_type == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(await response.read())
    assert data["email"] == "mine@example.vn"
    assert data["topics"] == [TOPIC]
    assert {c["action"] for c in data["consents"]} >= {"subscribe", "confirm"}


async def test_delete_me_asks_first_then_erases(site: Site) -> None:
    subscriber = await confirmed(site, "forget.me@example.vn", "en")
    preferences_path = site.link("preferences", subscriber)
    doc = await read_page(await site.client.get(preferences_path))
    [link] = doc.xpath(f"//a[normalize-space()='{text('sub_delete_link', 'en')}']")
    delete_path = urljoin(preferences_path, link.get("href"))

    ask = await read_page(await site.client.get(delete_path))
    assert heading(ask) == text("sub_delete_title", "en")
    # A bare POST (no confirmation field) only asks again.
    bare = await read_page(await site.client.post(delete_path))
    assert heading(bare) == text("sub_delete_title", "en")
    assert await site.subscriptions.store.get(subscriber.id) is not None

    done = await read_page(await submit(site, delete_path, post_form(ask)))
    assert heading(done) == text("sub_deleted_title", "en")
    assert await site.subscriptions.store.get(subscriber.id) is None
    # The links in old emails stop working, and the address is not mailed again.
    await read_page(await site.client.get(preferences_path), status=400)
    again = await site.subscribe(
        {"email": "forget.me@example.vn", "locale": "en", "topics": [TOPIC]}
    )
    assert again.status == 200
    assert len(await site.sent_to("forget.me@example.vn")) == 1  # the first one only


async def test_unsubscribing_after_delete_me_is_200_and_says_the_address_is_gone(
    site: Site,
) -> None:
    subscriber = await confirmed(site, "gone.then.click@example.vn", "en")
    unsubscribe_path = site.link("unsubscribe", subscriber)
    delete_path = site.link("preferences", subscriber) + "/delete"
    ask = await read_page(await site.client.get(delete_path))
    await read_page(await submit(site, delete_path, post_form(ask)))
    assert await site.subscriptions.store.get(subscriber.id) is None

    for _ in range(2):  # a mail client may send its one-click POST again
        response = await site.client.post(
            unsubscribe_path,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
        )
        assert response.status == 200
        assert "Location" not in response.headers
        doc = await read_page(response)
        assert heading(doc) == text("sub_unsubscribed_title", "vi")
        assert text("sub_erased", "vi") in main_text(doc)
    page = await read_page(await site.client.get(unsubscribe_path + "?lang=en"))
    assert heading(page) == text("sub_unsubscribed_title", "en")
    assert text("sub_erased", "en") in main_text(page)
    assert not page.xpath("//main//form")  # nothing left to press


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/confirm/t"), ("DELETE", "/unsubscribe/t"), ("POST", "/preferences/t/data")],
)
async def test_other_methods_are_405(site: Site, method: str, path: str) -> None:
    response = await site.client.request(method, path)
    assert response.status == 405
    assert "Allow" in response.headers
