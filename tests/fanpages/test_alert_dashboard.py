"""An expired page token, as staff see it: an alert on the delivery dashboard, in `status`,
and one email to the admins (not one per failed post)."""

from __future__ import annotations

import asyncio
import email
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import SERVICE, make_app
from broadcaster.staff.tables import Role
from tests.fanpages.conftest import GraphStandIn, ZaloStandIn, add_channels, graph_error
from tests.fanpages.conftest import settings_for as fanpage_settings

PASSWORD = "correct horse battery"
ORIGIN = {"Origin": "http://broadcaster.test"}


def mails(root: Path) -> list[email.message.Message]:
    return [
        email.message_from_bytes(path.read_bytes())
        for path in sorted((root / "var" / "mail").rglob("new/*"))
    ]


async def test_an_expired_token_shows_on_the_dashboard_and_in_status_and_mails_admins(
    workspace: Path, graph: GraphStandIn, zalo: ZaloStandIn
) -> None:
    add_channels(workspace, graph, zalo)
    (workspace / "workspace.yaml").write_text("approval: none\n", encoding="utf-8")
    expired = graph_error(190, "Error validating access token: Session has expired.", 463)
    graph.queued += [(400, expired, {}), (400, expired, {})]
    settings = fanpage_settings(workspace)
    app = make_app(settings)
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        _, setup = await service.accounts.add_user("dung", Role.ADMIN, "dung@example.gov.vn")
        await service.accounts.complete_setup(setup, PASSWORD)
        _, setup = await service.accounts.add_user("ana", Role.AUTHOR, "ana@example.gov.vn")
        await service.accounts.complete_setup(setup, PASSWORD)
        for campaign in ("online-submission", "support-contacts"):
            await service.publisher.publish(
                campaign, ["facebook-page"], source=PublicationSource.CLI
            )
        deadline = asyncio.get_running_loop().time() + 20
        while len(graph.seen) < 2 or not mails(workspace):
            assert asyncio.get_running_loop().time() < deadline, graph.seen
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a second mail would have been written by now
        login = await client.post(
            "/admin/login",
            data={"name": "ana", "password": PASSWORD},
            headers=ORIGIN,
            allow_redirects=False,
        )
        assert login.status == 303
        page = await (await client.get("/admin/publications")).text()
        listed = await (await client.get("/admin/api/publications")).json()
    assert "Kênh đã ngừng hoạt động" in page
    assert "Kênh facebook-page đã ngừng lúc" in page
    assert "Graph API error 190 (token): Error validating access token" in page
    (alert,) = listed["alerts"]
    assert (alert["channel"], alert["kind"]) == ("facebook-page", "token")
    (mail,) = mails(workspace)
    assert mail["To"] == "dung@example.gov.vn"
    assert "facebook-page" in str(mail["Subject"])
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "Session has expired" in body.decode()
    # `status` runs its own event loop, as from a shell.
    runner = CliRunner(env=dict(settings.environ))
    args = ["status", "--root", str(workspace)]
    result = await asyncio.to_thread(runner.invoke, main, args)
    assert result.exit_code == 0, result.output
    assert "ALERT  channel facebook-page stopped since" in result.output
    assert "get a new token and set it in the environment" in result.output
