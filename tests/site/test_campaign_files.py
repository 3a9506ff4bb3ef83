"""A campaign's `files/` as an attacker would try them: links out of the folder are never
followed, and files a browser could run are served as sandboxed downloads.

`check` reports a link that leaves the campaign folder at the link, with what to do; a link
made after the workspace was loaded is still never read, so the site never serves it. An
SVG, HTML or other active file is served with `Content-Disposition: attachment` and
`Content-Security-Policy: sandbox`, by aiohttp and by the static fast path alike.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp.plugin import AiohttpClient

from broadcaster.cli.operations import publish_now
from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import SERVICE, make_app
from broadcaster.web.keys import STATIC
from broadcaster.workspace.files import campaign_paths, read_inside
from tests.site.test_fastpath import exchange, request, serving
from tests.test_service import settings_for
from tests.workspace.test_check import run_check

CAMPAIGN = "online-submission"
FILES = f"campaigns/{CAMPAIGN}/files"
PDF = "6176-UBND-KSTT.pdf"
SECRET = "BROADCASTER_SECRET_KEY=do-not-publish-0123456789"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/admin/api/me\')">'
    b"<script>alert(document.domain)</script></svg>\n"
)


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "environ"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


def test_check_reports_a_link_out_of_the_campaign_folder_at_the_link(
    workspace: Path, tmp_path: Path
) -> None:
    secret = secret_file(tmp_path)
    (workspace / FILES / "environ.txt").symlink_to(secret)
    (workspace / FILES / "gone.pdf").symlink_to(tmp_path / "missing.pdf")
    (workspace / f"campaigns/{CAMPAIGN}/en.md").rename(tmp_path / "en.md")
    (workspace / f"campaigns/{CAMPAIGN}/en.md").symlink_to(tmp_path / "en.md")
    code, _, err = run_check(workspace)
    assert code == 1
    assert (
        f"{FILES}/environ.txt:1: a link to {str(secret)!r}, outside the campaign folder: "
        f"links that leave campaigns/{CAMPAIGN}/ are never followed; copy the file itself"
    ) in err
    assert f"{FILES}/gone.pdf:1: a link to " in err
    assert "which does not exist" in err
    assert f"campaigns/{CAMPAIGN}/en.md:1: a link to " in err
    assert SECRET not in err
    assert "Traceback" not in err


def test_a_linked_files_folder_and_a_pipe_are_refused(workspace: Path, tmp_path: Path) -> None:
    secret = secret_file(tmp_path)
    other = workspace / "campaigns/support-contacts"
    (other / "files").symlink_to(secret.parent, target_is_directory=True)
    os.mkfifo(workspace / FILES / "pipe.pdf")
    elsewhere = tmp_path / "elsewhere"
    (workspace / "campaigns/support-contacts").rename(elsewhere)
    (workspace / "campaigns/support-contacts").symlink_to(elsewhere, target_is_directory=True)
    code, _, err = run_check(workspace)  # a pipe read would hang: it is never opened
    assert code == 1
    assert "campaigns/support-contacts:1: a link to a folder outside campaigns/" in err
    (workspace / "campaigns/support-contacts").unlink()
    elsewhere.rename(workspace / "campaigns/support-contacts")
    code, _, err = run_check(workspace)
    assert code == 1
    assert "campaigns/support-contacts/files:1: a link to " in err
    assert f"{FILES}/pipe.pdf:1: not a regular file" in err


def test_a_link_that_stays_inside_the_campaign_folder_is_fine(workspace: Path) -> None:
    (workspace / FILES / "directive.pdf").symlink_to(PDF)
    code, out, err = run_check(workspace)
    assert code == 0, err
    assert f"campaign {CAMPAIGN}" in out


async def test_a_link_made_after_loading_is_never_served(
    workspace: Path, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """The file was fine when `serve` loaded the workspace; then it became a link to a
    secret. Building the site reads it again, refuses the link and leaves the file out."""
    secret = secret_file(tmp_path)
    (workspace / FILES / "notes.txt").write_text("public notes\n", encoding="utf-8")
    app = make_app(settings_for(workspace))
    client = await aiohttp_client(app)
    (workspace / FILES / "notes.txt").unlink()
    (workspace / FILES / "notes.txt").symlink_to(secret)
    service = app[SERVICE]
    await service.publisher.publish(CAMPAIGN, ["website"], source=PublicationSource.CLI)
    await service.workers.run_until_idle("test")
    pdf = await client.get(f"/files/{CAMPAIGN}/{PDF}")
    assert pdf.status == 200
    response = await client.get(f"/files/{CAMPAIGN}/notes.txt")
    assert response.status == 404
    assert SECRET.encode() not in await response.read()
    assert not any(SECRET.encode() in f.body for f in app[STATIC].files.values())


async def _headers(client: TestClient, path: str) -> dict[str, str]:  # type: ignore[type-arg]
    response = await client.get(path)
    assert response.status == 200, path
    assert await response.read()
    return dict(response.headers)


async def test_active_files_are_sandboxed_downloads_on_both_paths(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    (workspace / FILES / "sơ đồ.svg").write_bytes(SVG)
    (workspace / FILES / "form.html").write_bytes(b"<script>alert(1)</script>")
    settings = settings_for(workspace)
    await publish_now(settings, [CAMPAIGN], ["website"], wait=True)
    app = make_app(settings)
    client = await aiohttp_client(app)

    svg = await _headers(client, f"/files/{CAMPAIGN}/s%C6%A1%20%C4%91%E1%BB%93.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg["Content-Disposition"] == (
        "attachment; filename=\"s_ __.svg\"; filename*=UTF-8''s%C6%A1%20%C4%91%E1%BB%93.svg"
    )
    assert svg["Content-Security-Policy"] == "sandbox; frame-ancestors 'none'"
    assert svg["X-Content-Type-Options"] == "nosniff"
    html = await _headers(client, f"/files/{CAMPAIGN}/form.html")
    assert html["Content-Disposition"].startswith('attachment; filename="form.html"')
    assert html["Content-Security-Policy"] == "sandbox; frame-ancestors 'none'"
    # The official PDF still opens in the browser; pages are not downloads.
    pdf = await _headers(client, f"/files/{CAMPAIGN}/{PDF}")
    assert pdf["Content-Type"] == "application/pdf"
    assert "Content-Disposition" not in pdf
    assert pdf["Content-Security-Policy"] == "frame-ancestors 'none'"  # a PDF viewer runs
    page = await _headers(client, f"/vi/{CAMPAIGN}/")
    assert "Content-Disposition" not in page

    # The fast path answers with the very same headers as aiohttp.
    async with serving(app[STATIC]) as (plain, fast, handed_over):
        for path in (f"/files/{CAMPAIGN}/form.html", f"/files/{CAMPAIGN}/{PDF}"):
            ask = request(path, "Connection: close")
            slow_answer, fast_answer = await exchange(plain, ask), await exchange(fast, ask)
            assert slow_answer == fast_answer
        assert handed_over == []
        (answer,) = await exchange(
            fast, request(f"/files/{CAMPAIGN}/form.html", "Connection: close")
        )
        assert b'\r\nContent-Disposition: attachment; filename="form.html"' in answer
        assert b"\r\nContent-Security-Policy: sandbox; frame-ancestors 'none'\r\n" in answer


def test_a_folder_on_the_way_made_a_link_out_after_loading_is_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "campaigns" / CAMPAIGN
    (folder / "files" / "sub").mkdir(parents=True)
    (folder / "files" / "sub" / "a.txt").write_text("public", encoding="utf-8")
    readable, refused = campaign_paths(folder)
    assert (readable, refused) == ([folder / "files" / "sub" / "a.txt"], [])
    assert read_inside(readable[0], folder) == b"public"
    secret = secret_file(tmp_path)
    (secret.parent / "a.txt").write_text(SECRET, encoding="utf-8")
    shutil.rmtree(folder / "files" / "sub")
    (folder / "files" / "sub").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(OSError, match="outside"):
        read_inside(readable[0], folder)
