"""A confirmation email that could not be sent (the relay was down) is sent later.

`make_app` as `serve` builds it, with the example `citizens` channel sending over SMTP to
a port where nothing listens yet. The subscribe answers as usual; when an aiosmtpd server
comes up on that port, the service's sweep sends the email, and its link confirms.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller

from broadcaster.service import SERVICE, make_app
from broadcaster.settings import Settings
from broadcaster.subscribers.mailing import CONFIRMATION_SWEEP_AFTER
from broadcaster.text.strings import text
from broadcaster.web.subscriptions import SUBSCRIPTIONS
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, free_port
from tests.web.conftest import BASE_URL, FORM, SECRET, TOPIC, form_body, heading, page


async def test_a_confirmation_lost_to_a_down_relay_is_sent_when_it_is_back(
    tmp_path: Path,
) -> None:
    workspace = copy_workspace(tmp_path / "ws")
    port = free_port()
    settings = Settings.from_environ(
        workspace,
        {
            "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{workspace / 'var/db.sqlite'}",
            "BROADCASTER_BASE_URL": BASE_URL,
            "BROADCASTER_SECRET_KEY": SECRET,
            "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
            "MAIL_TRANSPORT": "smtp",
            "SMTP_PORT": str(port),
        },
    )
    app = make_app(settings)
    async with TestClient(TestServer(app)) as client:
        fields = {"email": "lan.tre@example.vn", "locale": "vi", "topics": [TOPIC]}
        response = await client.post(
            "/subscribe", data=form_body(fields), headers={"Content-Type": FORM}
        )
        assert response.status == 200  # the same answer as ever
        await app[SUBSCRIPTIONS].settle()  # the immediate send failed: nothing listens
        confirmations = app[SERVICE].confirmations
        assert confirmations is not None
        later = datetime.now(UTC) + CONFIRMATION_SWEEP_AFTER
        assert await confirmations.send_due(due_by=later) == 0  # still down: kept for later

        handler = Handler()
        relay = Controller(handler, hostname="127.0.0.1", port=port)
        relay.start()
        try:
            assert await confirmations.send_due() == 0  # not due yet: a minute after asking
            # Sweeps as the service runs them; the pool waits a few seconds after a failed
            # connect before it tries the relay again.
            sent = 0
            for _ in range(60):
                sent = await confirmations.send_due(due_by=later)
                if sent:
                    break
                await asyncio.sleep(0.25)
            assert sent == 1
            assert await confirmations.send_due(due_by=later) == 0  # sent once, not again
        finally:
            relay.stop()

        (received,) = handler.delivered()
        assert received.recipients == ["lan.tre@example.vn"]
        message = message_from_bytes(received.data, policy=default)
        assert isinstance(message, EmailMessage)
        body = message.get_content()
        [link] = re.findall(rf"{re.escape(BASE_URL)}/confirm/\S+", body)
        done = page(await (await client.post(urlsplit(link).path)).text())
        assert heading(done) == text("sub_confirmed_title", "vi")
