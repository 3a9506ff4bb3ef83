"""The smtp transport over STARTTLS and implicit TLS with AUTH, against a real aiosmtpd.

The relay's certificate comes from a throwaway CA (trustme). The client verifies it:
against `smtp.ca_file` when the channel names one, else against the system's CAs, which
do not know the test CA, so nothing is sent.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiosmtpd.controller import Controller

from broadcaster.outbox.tables import DeliveryStatus
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, Rig, free_port, make_rig, write_channel

# The implicit-TLS relay cannot tell aiosmtpd it is on TLS, which then warns about AUTH.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER, PASSWORD = "mailer@example.gov.vn", "sample-only-Pa55word-9f2c"
CHANNEL = """\
    type: email
    audience: subscribers
    from: "UBND tỉnh Khánh Hòa <thongbao@example.gov.vn>"
    list_id: "Thông báo <citizens.example.gov.vn>"
    transport: smtp
    smtp: {{host: 127.0.0.1, port: {port}, tls: {tls}, username: {user}, password: "${{SMTP_PASSWORD}}"{extra}}}
    connections: 2
"""


@dataclass
class Logins:
    """What the relay's AUTH check saw. (aiosmtpd's `auth_callback`: its newer
    `authenticator` leaves a refused login unanswered, so clients time out.)"""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, mechanism: str, login: bytes, password: bytes) -> bool:
        self.seen.append((login.decode(), password.decode()))
        return (login.decode(), password.decode()) == (USER, PASSWORD)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(params=["starttls", "tls"])
def tls(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def logins() -> Logins:
    return Logins()


@pytest.fixture
def relay(tls: str, ca: trustme.CA, handler: Handler, logins: Logins) -> Iterator[Controller]:
    """aiosmtpd that insists on TLS (STARTTLS, or TLS from the first byte) and on AUTH."""
    context = server_context(ca)
    options: dict[str, Any] = {"auth_callback": logins, "auth_required": True}
    if tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS throughout.
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


async def rig_for(
    tmp_path: Path, relay: Controller, tls: str, *, password: str = PASSWORD, extra: str = ""
) -> Rig:
    root = copy_workspace(tmp_path / "ws")
    write_channel(
        root, "citizens", CHANNEL.format(port=relay.port, tls=tls, user=USER, extra=extra)
    )
    env = {"SMTP_PASSWORD": password, "BROADCASTER_SECRET_KEY": "k" * 40}
    return await make_rig(root, env)


@pytest_asyncio.fixture
async def trusted_rig(
    tmp_path: Path, relay: Controller, tls: str, ca_file: Path
) -> AsyncIterator[Rig]:
    """The channel names the relay's CA in `smtp.ca_file` (relative to the workspace)."""
    assert ca_file.parent == tmp_path  # the workspace is tmp_path / "ws"
    rig = await rig_for(tmp_path, relay, tls, extra=", ca_file: ../relay-ca.pem")
    yield rig
    await rig.close()


async def deliveries(rig: Rig, publication_id: int) -> dict[DeliveryStatus, int]:
    return dict((await rig.outbox.progress(publication_id)).get("citizens", {}))


async def test_list_mail_goes_over_tls_with_auth_and_the_password_is_never_logged(
    trusted_rig: Rig,
    handler: Handler,
    logins: Logins,
    tls: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await trusted_rig.subscribe("an.tls@example.vn")
    await trusted_rig.subscribe("binh.tls@example.vn")
    publication_id = await trusted_rig.publish()
    assert await trusted_rig.workers.run_until_idle() == 2

    assert await deliveries(trusted_rig, publication_id) == {DeliveryStatus.DELIVERED: 2}
    assert sorted(r.recipients[0] for r in handler.delivered()) == [
        "an.tls@example.vn",
        "binh.tls@example.vn",
    ]
    assert logins.seen
    assert set(logins.seen) == {(USER, PASSWORD)}
    channel = trusted_rig.channels["citizens"]
    assert PASSWORD not in repr(channel.describe())
    assert PASSWORD not in caplog.text


async def test_a_certificate_from_an_unknown_ca_sends_nothing(
    tmp_path: Path, relay: Controller, handler: Handler, logins: Logins, tls: str
) -> None:
    """Without `ca_file` the system's CAs decide, and they do not know the test CA."""
    rig = await rig_for(tmp_path, relay, tls)
    try:
        await rig.subscribe("chi.tls@example.vn")
        publication_id = await rig.publish()
        await rig.workers.run_until_idle()
        assert handler.delivered() == []
        assert logins.seen == []  # the password never went over the unverified connection
        assert DeliveryStatus.DELIVERED not in await deliveries(rig, publication_id)
        first = (await rig.outbox.attempts(1))[0]
        assert first.outcome == "temporary-failure"
        assert "CERTIFICATE_VERIFY_FAILED" in (first.error or "")
    finally:
        await rig.close()


async def test_a_wrong_password_is_retried_later_and_not_written_anywhere(
    tmp_path: Path,
    relay: Controller,
    handler: Handler,
    logins: Logins,
    tls: str,
    ca_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sample-only-wrong-password-77"
    rig = await rig_for(tmp_path, relay, tls, password=wrong, extra=", ca_file: ../relay-ca.pem")
    try:
        await rig.subscribe("dung.tls@example.vn")
        publication_id = await rig.publish()
        await rig.workers.run_until_idle()
        assert handler.delivered() == []
        assert logins.seen
        assert set(logins.seen) == {(USER, wrong)}
        assert DeliveryStatus.DELIVERED not in await deliveries(rig, publication_id)
        errors = [a.error or "" for a in await rig.outbox.attempts(1)]
        assert errors[0].startswith("SMTP relay 127.0.0.1")
        assert "535" in errors[0]
        assert not any(wrong in error for error in errors)
        assert wrong not in caplog.text
    finally:
        await rig.close()
