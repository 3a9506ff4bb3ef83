"""`make_app` as `serve` builds it: confirmation emails go out through the subscriber channel.

The example workspace's `citizens` channel writes to a Maildir by default, so the whole
double opt-in can be followed from the form to the mailbox and back.
"""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer

from broadcaster.service import SERVICE, make_app
from broadcaster.text.strings import text
from broadcaster.web.subscriptions import SUBSCRIPTIONS
from tests.conftest import copy_workspace
from tests.web.conftest import BASE_URL, FORM, TOPIC, form_body, heading, page, settings_for


def mailbox(root: Path) -> list[EmailMessage]:
    paths = sorted((root / "var/mail/new").glob("*")) if (root / "var/mail/new").is_dir() else []
    messages = []
    for path in paths:
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


async def test_the_confirmation_email_arrives_and_its_link_confirms(tmp_path: Path) -> None:
    workspace = copy_workspace(tmp_path / "ws")
    app = make_app(settings_for(workspace))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/subscribe",
            data=form_body(
                {"email": "hoa@example.vn", "locale": "vi", "topics": [TOPIC], "frequency": "daily"}
            ),
            headers={"Content-Type": FORM},
        )
        assert response.status == 200
        subscriptions = app[SUBSCRIPTIONS]
        await subscriptions.settle()
        [message] = mailbox(workspace)
        assert message["To"] == "hoa@example.vn"
        body = message.get_content()
        [link] = re.findall(rf"{re.escape(BASE_URL)}/confirm/\S+", body)

        path = urlsplit(link).path
        shown = page(await (await client.get(path)).text())
        assert heading(shown) == text("sub_confirm_title", "vi")
        done = page(await (await client.post(path)).text())
        assert heading(done) == text("sub_confirmed_title", "vi")
        found = subscriptions.tokens.read(path.rsplit("/", 1)[1], "confirm")
        assert found is not None
        subscriber = await subscriptions.store.get(found[0])
        assert subscriber is not None
        assert (subscriber.email, subscriber.status) == ("hoa@example.vn", "confirmed")


async def test_the_pages_use_the_services_own_store_signer_and_confirmations(
    tmp_path: Path,
) -> None:
    """One subscriber store, token signer and Confirmations per process, not a second set."""
    app = make_app(settings_for(copy_workspace(tmp_path / "ws")))
    async with TestClient(TestServer(app)):
        subscriptions, service = app[SUBSCRIPTIONS], app[SERVICE]
        assert subscriptions.store is service.subscribers
        assert subscriptions.tokens is service.tokens
        assert subscriptions.confirmations is service.confirmations
