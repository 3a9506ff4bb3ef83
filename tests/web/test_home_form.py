"""The subscribe form on the website's home page: there in vi and en, usable without scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode, urljoin

import pytest
import pytest_asyncio
from lxml.html import FormElement

from broadcaster.cli.operations import publish_now
from broadcaster.text.strings import text
from tests.conftest import copy_workspace
from tests.web.conftest import FORM, Site, heading, page, running, settings_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOPICS = {
    "online-services",
    "support-contacts",
    "covid-19-measures",
    "one-stop-counters",
    "commune-support",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The app serving a website with one current campaign, in vi and en."""
    workspace = copy_workspace(tmp_path_factory.mktemp("home") / "ws")
    await publish_now(settings_for(workspace), ["support-contacts"], ["website"], wait=True)
    async with running(workspace) as site:
        yield site


def subscribe_form(body: str) -> FormElement:
    [form] = page(body).xpath("//aside[@id='subscribe']//form")
    assert isinstance(form, FormElement)
    return form


@pytest.mark.parametrize(("home", "locale"), [("/", "vi"), ("/vi/", "vi"), ("/en/", "en")])
async def test_the_home_page_form_subscribes_in_the_page_language(
    site: Site, home: str, locale: str
) -> None:
    response = await site.client.get(home)
    body = await response.text()
    assert response.status == 200, body
    assert page(body).get("lang") == locale
    assert not page(body).xpath("//script")
    form = subscribe_form(body)
    assert form.method == "POST"
    assert urljoin(f"http://host{home}", form.action) == "http://host/subscribe"
    # Every workspace topic is offered, each with a label in the page's language.
    boxes = form.xpath(".//input[@type='checkbox'][@name='topics']")
    assert {box.get("value") for box in boxes} == TOPICS
    for box in boxes:
        [label] = form.xpath(f".//label[@for='{box.get('id')}']")
        assert label.text_content().strip()
    [email_label] = form.xpath(".//label[@for='sub-email']")
    assert email_label.text_content().strip() == text("sub_email_label", locale)
    # The honeypot is out of sight and out of the accessibility tree.
    [trap] = form.xpath(".//input[@name='website']")
    assert trap.getparent().get("aria-hidden") == "true"
    assert trap.get("tabindex") == "-1"

    address = f"home.{locale}.{len(home)}@example.vn"
    form.inputs["email"].value = address
    boxes[0].checked = True
    answer = await site.client.post(
        "/subscribe", data=urlencode(form.form_values()), headers={"Content-Type": FORM}
    )
    doc = page(await answer.text())
    assert answer.status == 200
    assert doc.get("lang") == locale
    assert heading(doc) == text("sub_pending_title", locale)
    [sent] = await site.sent_to(address)
    assert sent.locale == locale


@pytest.mark.parametrize("path", ["/en/contacts/", "/vi/archive/"])
async def test_other_pages_link_to_the_form(site: Site, path: str) -> None:
    response = await site.client.get(path)
    doc = page(await response.text())
    locale = path.split("/")[1]
    [link] = doc.xpath(f"//footer//a[normalize-space()='{text('sub_footer_link', locale)}']")
    assert urljoin(f"http://host{path}", link.get("href")) == f"http://host/{locale}/#subscribe"
