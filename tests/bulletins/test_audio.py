"""A bulletin is spoken offline (espeak-ng), encoded to MP3 and Ogg Opus, signed, and listed
in the radio podcast feed; rendering never holds up the event loop."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import feedparser  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from broadcaster.bulletins.bundle import BundleInvalid, public_pem, signing_key, verify
from broadcaster.bulletins.names import bulletin_id
from broadcaster.channels.base import DeliveryRejected
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Templates
from tests.bulletins.helpers import BASE_URL, job, publication, radio

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("espeak-ng", "ffmpeg", "ffprobe")),
    reason="espeak-ng and ffmpeg are installed by .ci/run",
)


def probe(path: Path) -> dict[str, str]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "default=noprint_wrappers=1",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize("locale", ["vi", "en"])
async def test_a_bulletin_plays_about_as_long_as_the_script_reads(
    workspace: Path, locale: str
) -> None:
    published = publication(workspace)
    channel = radio(workspace)
    receipt = await channel.deliver(job(channel, published, locale))
    assert f"bulletin {locale}/" in receipt
    assert "the radio feed lists 1" in receipt

    ident = bulletin_id(published.campaign.id, published.campaign.revision)
    folder = workspace / "var" / "bulletins" / locale
    script = read_aloud(published, locale, Templates(workspace / "templates"))
    mp3, opus = probe(folder / f"{ident}.mp3"), probe(folder / f"{ident}.opus")
    assert mp3["codec_name"] == "mp3"
    assert opus["codec_name"] == "opus"
    for played in (float(mp3["duration"]), float(opus["duration"])):
        assert abs(played - script.seconds) <= 0.25 * script.seconds, (played, script.seconds)
    assert (folder / f"{ident}.txt").read_text(encoding="utf-8") == script.text


async def test_the_bundle_is_signed_and_its_files_match_the_manifest(workspace: Path) -> None:
    published = publication(workspace)
    channel = radio(workspace)
    await channel.deliver(job(channel, published, "vi"))
    ident = bulletin_id(published.campaign.id, published.campaign.revision)
    data = (workspace / "var" / "bulletins" / "vi" / f"{ident}.zip").read_bytes()

    public_key = load_pem_public_key(public_pem(signing_key(b"k" * 32)))
    manifest = verify(data, public_key)  # type: ignore[arg-type]
    assert set(manifest["files"]) == {"bulletin.mp3", "bulletin.opus", "script.txt"}
    assert manifest["campaign"] == "online-submission"
    assert manifest["locale"] == "vi"
    assert manifest["audio"]["mp3"] == f"{BASE_URL}/bulletins/vi/{ident}.mp3"

    other = load_pem_public_key(public_pem(signing_key(b"another key" * 3)))
    with pytest.raises(BundleInvalid, match="signature"):
        verify(data, other)  # type: ignore[arg-type]
    tampered = data.replace(b"Ho\xcc\x80a", b"Hoa")  # any change breaks a hash or the zip
    if tampered != data:
        with pytest.raises(BundleInvalid):
            verify(tampered, public_key)  # type: ignore[arg-type]


async def test_the_podcast_feed_validates_and_lists_each_bulletin(workspace: Path) -> None:
    channel = radio(workspace)
    for campaign in ("online-submission", "support-contacts"):
        published = publication(workspace, campaign)
        await channel.deliver(job(channel, published, "vi"))
    data = (workspace / "var" / "bulletins" / "vi" / "radio.rss").read_bytes()
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Bản tin phát thanh"
    assert feed.feed.language == "vi"
    assert feed.feed.link == f"{BASE_URL}/vi/"
    assert b"<itunes:explicit>no</itunes:explicit>" in data
    assert feed.feed.author_detail.name == "UBND tỉnh Khánh Hòa"
    assert [tag.term for tag in feed.feed.tags] == ["Government"]
    assert len(feed.entries) == 2
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        assert enclosure.href.startswith(f"{BASE_URL}/bulletins/vi/")
        assert int(enclosure.length) > 10_000
        hours, minutes, seconds = map(int, entry.itunes_duration.split(":"))
        assert 60 <= hours * 3600 + minutes * 60 + seconds <= 600
        assert entry.description.startswith("KỊCH BẢN ĐỌC TRÊN SÓNG PHÁT THANH")
        assert "dichvucong chấm gov chấm vn" in entry.description or "Đầu mối" in entry.description


async def test_rendering_leaves_the_event_loop_free(workspace: Path) -> None:
    published = publication(workspace)
    channel = radio(workspace)
    lags: list[float] = []

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        await channel.deliver(job(channel, published, "vi"))
    finally:
        ticker.cancel()
    assert len(lags) > 20
    # A loaded machine delays a timer now and then; blocking would cost whole seconds.
    assert max(lags) < 0.5, max(lags)


async def test_a_second_delivery_reuses_the_rendered_bulletin(workspace: Path) -> None:
    published = publication(workspace)
    channel = radio(workspace)
    await channel.deliver(job(channel, published, "en"))
    receipt = await channel.deliver(job(channel, published, "en"))
    assert "already rendered" in receipt


async def test_an_engine_that_is_not_installed_is_a_clear_permanent_failure(
    workspace: Path,
) -> None:
    published = publication(workspace)
    channel = radio(
        workspace, tts={"engine": "command", "command": ["/nonexistent/tts", "{output}"]}
    )
    with pytest.raises(DeliveryRejected, match="/nonexistent/tts is not installed"):
        await channel.deliver(job(channel, published, "vi"))
    assert not list((workspace / "var" / "bulletins").glob("*/*.json"))
