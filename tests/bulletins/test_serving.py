"""Bulletins over HTTP, and an office's own speech engine behind an HTTP endpoint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import feedparser  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from broadcaster.bulletins.bundle import verify
from broadcaster.bulletins.names import bulletin_id
from broadcaster.settings import Settings
from broadcaster.web.bulletins import add_bulletins
from broadcaster.web.keys import SETTINGS
from tests.bulletins.helpers import job, publication, radio

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("espeak-ng", "ffmpeg", "ffprobe")),
    reason="espeak-ng and ffmpeg are installed by .ci/run",
)


def bulletin_app(root: Path) -> web.Application:
    app = web.Application()
    app[SETTINGS] = Settings.from_environ(root, environ={"BROADCASTER_SECRET_KEY": "k" * 32})
    add_bulletins(app)
    return app


async def test_a_station_finds_downloads_and_verifies_a_bulletin(workspace: Path) -> None:
    published = publication(workspace)
    channel = radio(workspace)
    await channel.deliver(job(channel, published, "vi"))
    ident = bulletin_id(published.campaign.id, published.campaign.revision)

    async with TestClient(TestServer(bulletin_app(workspace))) as client:
        response = await client.get("/feeds/vi/radio.rss")
        assert response.status == 200
        assert response.content_type == "application/rss+xml"
        feed = feedparser.parse(await response.read())
        (entry,) = feed.entries
        url = entry.enclosures[0].href
        assert url.endswith(f"/bulletins/vi/{ident}.mp3")

        again = await client.get(
            "/feeds/vi/radio.rss", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status == 304

        audio = await client.get(f"/bulletins/vi/{ident}.mp3")
        assert audio.status == 200
        assert audio.content_type == "audio/mpeg"
        assert len(await audio.read()) == int(entry.enclosures[0].length)

        key = await client.get("/bulletins/key.pem")
        bundle = await client.get(f"/bulletins/vi/{ident}.zip")
        manifest = verify(await bundle.read(), load_pem_public_key(await key.read()))  # type: ignore[arg-type]
        assert manifest["id"] == ident

        for missing in (
            "/bulletins/vi/nothing-here.mp3",
            "/bulletins/vi/x.exe",
            "/bulletins/xx-../x.mp3",
            "/feeds/fr/radio.rss",
        ):
            assert (await client.get(missing)).status == 404, missing


@pytest.fixture
def wav(tmp_path: Path) -> bytes:
    """A few seconds of speech, as an office's engine would answer."""
    path = tmp_path / "engine.wav"
    subprocess.run(
        ["espeak-ng", "-v", "vi", "-w", str(path), "một hai ba bốn năm sáu bảy tám chín mười"],
        check=True,
    )
    return path.read_bytes()


async def test_an_http_speech_engine_gets_the_text_and_its_audio_is_used(
    workspace: Path, wav: bytes
) -> None:
    audio = wav
    asked: list[tuple[str, str, str]] = []

    async def speak(request: web.Request) -> web.Response:
        asked.append(
            (
                await request.text(),
                request.headers["Content-Language"],
                request.headers.get("Authorization", ""),
            )
        )
        return web.Response(body=audio, content_type="audio/wav")

    engine = web.Application()
    engine.router.add_post("/tts", speak)
    async with TestServer(engine) as server:
        published = publication(workspace)
        channel = radio(
            workspace, tts={"engine": "http", "url": str(server.make_url("/tts")), "token": "t0k"}
        )
        receipt = await channel.deliver(job(channel, published, "vi"))
    (text, language, authorization) = asked[0]
    assert text.startswith("Thông báo của Ủy ban nhân dân tỉnh Khánh Hòa.")
    assert "dichvucong chấm gov chấm vn" in text
    assert language == "vi"
    assert authorization == "Bearer t0k"
    assert "0:00:0" in receipt  # the engine's few seconds of audio, not a whole script


def test_the_static_fast_path_stays_in_front_of_feeds_and_pages(workspace: Path) -> None:
    """The radio feed, bulletins and the press room are never generated files: the fast path
    keeps answering every generated page and feed, and passes these on to the app."""
    from broadcaster.service import make_app
    from broadcaster.web.app import _other_routes
    from broadcaster.web.keys import STATIC
    from tests.web.conftest import settings_for

    app = make_app(settings_for(workspace))
    reserved = _other_routes(app, app[STATIC])
    assert reserved is not None
    assert not any(prefix in ("/", "/feeds/", "/bulletins/") for prefix in reserved), reserved
