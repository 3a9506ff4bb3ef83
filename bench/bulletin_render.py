"""Spoken bulletins: how long a 2-minute bulletin takes to render, and whether the event
loop stays free meanwhile.

    .venv/bin/python bench/bulletin_render.py [--locale vi] [--seconds 120] [--repeats 3]

The radio script of `online-submission` in the example workspace (a throwaway copy) is cut
or repeated to SECONDS of estimated reading time (the glossary's words per minute), then
made into a bulletin the way the radio channel does it: espeak-ng speaks it, ffmpeg encodes
MP3 and Ogg Opus (two processes at once), the bundle is signed and everything is written to
the library. Each repeat prints the wall time, the CPU time of the subprocesses, the audio's
duration, and the longest delay a 10 ms timer on the event loop saw meanwhile.
Target: a 2-minute bulletin in under 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import copy_workspace

from broadcaster.bulletins.bundle import signing_key
from broadcaster.bulletins.library import BulletinLibrary
from broadcaster.bulletins.speech import SpeechOptions
from broadcaster.bulletins.studio import Script, make_bulletin
from broadcaster.settings import Settings
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.load import load_workspace


def script_of(root: Path, locale: str, seconds: int) -> tuple[str, int]:
    """The campaign's spoken script, cut or repeated to `seconds` of reading; and the wpm."""
    settings = Settings.from_environ(root, environ={})
    workspace, _ = load_workspace(root, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert workspace is not None
    campaign = workspace.campaigns["online-submission"]
    published = Publication.prepare(
        workspace, campaign, "https://example.gov.vn", datetime.now(UTC)
    )
    spoken = read_aloud(published, locale, Templates(root / "templates")).spoken
    wpm = workspace.glossary.for_locale(locale).words_per_minute
    words = spoken.split(" ")
    wanted = wpm * seconds // 60
    while len(words) < wanted:
        words += words
    return " ".join(words[:wanted]), wpm


async def one(
    text: str, locale: str, wpm: int, folder: Path, n: int
) -> tuple[float, float, float, float]:
    lags: list[float] = []

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    script = Script(
        id=f"bench-{n}",
        locale=locale,
        text=text,
        spoken=text,
        words_per_minute=wpm,
        published_at=datetime.now(UTC),
        fields={"id": f"bench-{n}", "locale": locale},
    )
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticker = asyncio.create_task(tick())
    made = await make_bulletin(
        script, SpeechOptions(), BulletinLibrary(folder), signing_key(b"bench" * 8), asyncio.Lock()
    )
    ticker.cancel()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return made.took, cpu, made.seconds, max(lags, default=0.0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--locale", default="vi")
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bulletins-") as name:
        root = copy_workspace(Path(name) / "ws")
        text, wpm = script_of(root, args.locale, args.seconds)
        print(
            f"script: {len(text.split())} words at {wpm} wpm = {args.seconds} s estimated; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        walls = []
        for n in range(args.repeats):
            wall, cpu, audio, lag = await one(text, args.locale, wpm, Path(name) / "lib", n)
            walls.append(wall)
            print(
                f"  run {n + 1}: {wall:5.2f} s wall, {cpu:5.2f} s CPU (subprocesses), "
                f"audio {audio:6.1f} s, longest event-loop delay {lag * 1000:.0f} ms"
            )
        middle = statistics.median(walls)
        verdict = "met" if middle < 10 else "NOT met"
        print(f"median {middle:.2f} s for a {args.seconds} s bulletin (target < 10 s): {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
