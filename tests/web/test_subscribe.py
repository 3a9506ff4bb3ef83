"""POST /subscribe from the form and as JSON: what a person or a script gets back."""

from __future__ import annotations

import json

import pytest
from lxml.html import HtmlElement

from broadcaster.text.strings import text
from tests.web.conftest import BASE_URL, FORM, TOPIC, Site, confirmed, heading, main_text, page

pytestmark = pytest.mark.asyncio(loop_scope="module")


def the_form(doc: HtmlElement) -> HtmlElement:
    [form] = doc.xpath("//form[@method='post']")
    assert isinstance(form, HtmlElement)
    return form


def error_summary(doc: HtmlElement) -> dict[str, str]:
    """The error summary's links: field anchor -> message, as a reader sees them."""
    links = doc.xpath("//*[@role='alert']//a")
    return {a.get("href"): " ".join(a.text_content().split()) for a in links}


@pytest.mark.parametrize("locale", ["vi", "en"])
async def test_subscribing_says_check_your_inbox_and_mails_a_confirmation_link(
    site: Site, locale: str
) -> None:
    email = f"lan.{locale}@example.vn"
    response = await site.subscribe(
        {
            "email": email,
            "locale": locale,
            "topics": [TOPIC, "covid-19-measures"],
            "frequency": "daily",
        }
    )
    body = await response.text()
    assert response.status == 200, body
    doc = page(body)
    assert doc.get("lang") == locale
    assert heading(doc) == text("sub_pending_title", locale)
    assert text("sub_pending", locale) in main_text(doc)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert not doc.xpath("//script")
    [sent] = await site.sent_to(email)
    assert sent.locale == locale
    assert sent.confirm_url.startswith(f"{BASE_URL}/confirm/")
    subscriber = await site.subscriptions.store.get(sent.subscriber_id)
    assert subscriber is not None
    assert subscriber.topics == (TOPIC, "covid-19-measures")
    assert str(subscriber.frequency) == "daily"
    assert str(subscriber.status) == "pending"


async def test_the_answer_is_the_same_whether_or_not_the_address_is_known(site: Site) -> None:
    def fields(email: str) -> dict[str, str | list[str]]:
        return {"email": email, "locale": "en", "topics": [TOPIC], "frequency": "weekly"}

    await confirmed(site, "known.confirmed@example.vn")
    await site.subscriptions.store.suppress("bounced@example.vn", "hard-bounce")
    answers = []
    for email in (
        "brand.new@example.vn",
        "brand.new@example.vn",  # pending, asked again
        "known.confirmed@example.vn",
        "bounced@example.vn",
    ):
        response = await site.subscribe(fields(email))
        answers.append((response.status, await response.read()))
    assert answers[0][0] == 200
    assert answers == [answers[0]] * 4
    # Only the new address got an email; the others learn nothing and get nothing.
    assert len(await site.sent_to("brand.new@example.vn")) == 1
    assert len(await site.sent_to("known.confirmed@example.vn")) == 1  # its first, earlier
    assert await site.sent_to("bounced@example.vn") == []


async def test_a_filled_honeypot_gets_the_same_answer_and_nothing_is_stored(site: Site) -> None:
    fields = {"email": "bot@example.vn", "locale": "vi", "topics": [TOPIC]}
    person = await site.subscribe({**fields, "email": "person@example.vn"})
    bot = await site.subscribe({**fields, "website": "http://spam.example"})
    assert (bot.status, await bot.read()) == (person.status, await person.read())
    assert await site.sent_to("bot@example.vn") == []
    # Nothing was stored: the same address asking for real is new and gets its email.
    await site.subscribe(fields)
    assert len(await site.sent_to("bot@example.vn")) == 1


@pytest.mark.parametrize(
    ("field", "sent", "key"),
    [
        ("email", {"email": "not-an-address"}, "sub_error_email"),
        ("email", {"email": ""}, "sub_error_email"),
        ("email", {"email": "nguyễn.văn.a@example.vn"}, "sub_error_email_ascii"),
        ("topics", {"topics": ["no-such-topic"]}, "sub_error_topics_unknown"),
        ("topics", {"topics": []}, "sub_error_topics_none"),
        ("frequency", {"frequency": "hourly"}, "sub_error_frequency"),
    ],
)
@pytest.mark.parametrize("locale", ["vi", "en"])
async def test_a_mistake_is_named_on_the_form_again_with_what_was_typed(
    site: Site, field: str, sent: dict[str, str | list[str]], key: str, locale: str
) -> None:
    fields: dict[str, str | list[str]] = {
        "email": "mistake@example.vn",
        "locale": locale,
        "topics": [TOPIC, "one-stop-counters"],
        "frequency": "weekly",
        **sent,
    }
    response = await site.subscribe(fields)
    body = await response.text()
    assert response.status == 400, body
    doc = page(body)
    assert doc.get("lang") == locale
    message = text(key, locale)
    assert error_summary(doc) == {f"#sub-{field}": message}
    # The message sits at the field too, and the field says it is invalid.
    assert doc.xpath(f"string(//*[@id='sub-{field}-error'])").strip().endswith(message)
    assert doc.get_element_by_id(f"sub-{field}").get("aria-invalid") == "true"
    form = the_form(doc)
    assert form.get("action") == "subscribe"
    values = form.form_values()
    assert ("email", fields["email"]) in values
    assert ("locale", locale) in values
    # Topics are checkboxes: the known ones stay ticked (an unknown one has no box).
    known = [topic for topic in fields["topics"] if topic != "no-such-topic"]
    assert [v for k, v in values if k == "topics"] == known
    kept_frequency = fields["frequency"] if field != "frequency" else "immediate"
    assert ("frequency", kept_frequency) in values
    assert await site.sent_to("mistake@example.vn") == []


async def test_an_unknown_language_is_named_and_the_page_is_in_the_default_one(
    site: Site,
) -> None:
    response = await site.subscribe(
        {"email": "lang@example.vn", "locale": "fr", "topics": [TOPIC], "frequency": "daily"}
    )
    assert response.status == 400
    doc = page(await response.text())
    assert doc.get("lang") == "vi"
    assert error_summary(doc) == {"#sub-locale": text("sub_error_locale", "vi")}


async def test_json_gets_202_or_the_errors_by_field_in_its_language(site: Site) -> None:
    good = {"email": "api@example.vn", "locale": "en", "topics": [TOPIC], "frequency": "daily"}
    response = await site.client.post("/subscribe", json=good)
    assert response.status == 202
    assert response.content_type == "application/json"
    answer = await response.json()
    assert answer == {"status": "pending", "message": text("sub_pending", "en")}
    [sent] = await site.sent_to("api@example.vn")
    assert sent.locale == "en"

    # Known address: byte for byte the same answer.
    again = await site.client.post("/subscribe", json=good)
    assert again.status == 202
    assert json.loads(await again.read()) == answer

    bad = {**good, "email": "nope", "topics": ["online-services", 7], "frequency": "yearly"}
    response = await site.client.post("/subscribe", json=bad)
    assert response.status == 400
    assert await response.json() == {
        "errors": {
            "email": text("sub_error_email", "en"),
            "topics": text("sub_error_topics_unknown", "en"),
            "frequency": text("sub_error_frequency", "en"),
        }
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json"), (b"x", "text/plain")],
)
async def test_a_body_that_is_not_a_form_or_json_object_is_400(
    site: Site, body: bytes, content_type: str
) -> None:
    response = await site.client.post(
        "/subscribe", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == 400


@pytest.mark.parametrize("content_type", [FORM, "application/json"])
async def test_a_body_over_16_kb_is_413(site: Site, content_type: str) -> None:
    response = await site.client.post(
        "/subscribe", data=b"email=" + b"a" * 17_000, headers={"Content-Type": content_type}
    )
    assert response.status == 413
    if content_type == FORM:
        doc = page(await response.text())
        assert text("sub_error_too_large", "vi") in main_text(doc)
    else:
        assert "body" in (await response.json())["errors"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_subscribe_only_accepts_post(site: Site, method: str) -> None:
    response = await site.client.request(method, "/subscribe")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"


async def test_with_no_current_guidance_the_home_form_still_leads_to_every_topic(
    site: Site,
) -> None:
    response = await site.client.get("/")
    doc = page(await response.text())
    [form] = doc.xpath("//aside[@id='subscribe']//form")
    assert not form.xpath(".//input[@name='topics']")  # nothing to offer on the page itself
    form.inputs["email"].value = "early@example.vn"
    response = await site.subscribe(dict(form.form_values()))
    again = page(await response.text())
    assert response.status == 400
    assert error_summary(again) == {"#sub-topics": text("sub_error_topics_none", "vi")}
    assert len(the_form(again).xpath(".//input[@name='topics']")) == 5
    assert ("email", "early@example.vn") in the_form(again).form_values()
