"""A withdrawal cut short by a crash (stored, nobody told yet) is told on `resume`, with
its reason, once per person: the reason travels in the withdrawal's snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from broadcaster.channels import build_channels
from broadcaster.outbox.tables import PublicationSource
from broadcaster.publishing.withdrawals import Withdrawals
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, Rig, make_rig
from tests.mail.conftest import handler as handler
from tests.mail.conftest import smtp_server as smtp_server


@pytest_asyncio.fixture
async def rig(tmp_path: Path, smtp_server: Controller) -> AsyncIterator[Rig]:
    """The mail rig with channels that read the outbox's history, as `serve` builds them."""
    root = copy_workspace(tmp_path / "ws")
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp_server.port)}
    made = await make_rig(root, {**env, "BROADCASTER_SECRET_KEY": "k" * 40})
    made.channels = build_channels(
        made.workspace,
        made.settings,
        subscribers=made.store,
        tokens=made.tokens,
        history=made.outbox,
    )
    made.publisher.use(made.workspace, made.channels)
    made.workers.channels = made.channels
    yield made
    await made.close()


class Crash(Exception):
    pass


async def test_a_withdrawal_stored_before_a_crash_is_told_on_resume(
    rig: Rig, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.subscribe("lan@example.vn")
    await rig.subscribe("minh@example.com", "en")
    await rig.publish()
    await rig.publish()  # the same revision again: a reminder, not a correction
    await rig.workers.run_until_idle()
    assert len(handler.delivered()) == 4

    async def crash(*args: object) -> int:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(Withdrawals, "fill", crash)
        with pytest.raises(Crash):
            await rig.publisher.withdraw(
                "online-submission", source=PublicationSource.ADMIN, reason="Nhầm đối tượng"
            )
    assert await rig.workers.run_until_idle() == 0  # nothing queued before the crash

    assert await rig.publisher.resume() == 1
    await rig.workers.run_until_idle()
    notices = handler.delivered()[4:]
    assert sorted(r.recipients[0] for r in notices) == ["lan@example.vn", "minh@example.com"]
    for received in notices:
        message = message_from_bytes(received.data, policy=default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        assert body is not None
        assert "Nhầm đối tượng" in str(body.get_content())
