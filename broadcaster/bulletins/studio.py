"""Making one bulletin: speak the script, encode it, sign the bundle, store it, and rebuild
the locale's podcast feed. Subprocesses do the work; the event loop only waits on them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.bulletins.bundle import bundle
from broadcaster.bulletins.encode import encode
from broadcaster.bulletins.library import BulletinLibrary
from broadcaster.bulletins.podcast import PodcastInfo, podcast_feed
from broadcaster.bulletins.speech import SpeechOptions, speak


@dataclass(frozen=True)
class Script:
    """What a bulletin is made of, as the radio channel rendered it."""

    id: str
    locale: str
    text: str  # the whole script, as presenters and the bundle get it
    spoken: str  # what the speech engine reads (the script without its heading lines)
    words_per_minute: int
    published_at: datetime
    fields: dict[str, Any]  # the manifest's description of the bulletin (title, urls...)


@dataclass(frozen=True)
class Made:
    """A finished bulletin: how long it plays, how big it is, how long it took to make."""

    seconds: float
    mp3_bytes: int
    took: float


async def make_bulletin(
    script: Script,
    speech: SpeechOptions,
    library: BulletinLibrary,
    key: Ed25519PrivateKey,
    turn: asyncio.Lock,
) -> Made:
    """Render, sign and store one bulletin (ToolFailed when an engine fails); `turn` is
    held throughout (speaking and encoding take a core each: one bulletin at a time keeps
    the machine responsive)."""
    async with turn:
        started = time.perf_counter()
        audio = await speak(script.spoken, script.locale, speech, script.words_per_minute)
        encoded = await encode(audio, speech.timeout)
        files = {
            "bulletin.mp3": encoded.mp3,
            "bulletin.opus": encoded.opus,
            "script.txt": script.text.encode(),
        }
        fields = {**script.fields, "duration_seconds": round(encoded.seconds, 2)}
        archive, manifest = await asyncio.to_thread(bundle, fields, files, key, script.published_at)
        stored = {
            "mp3": encoded.mp3,
            "opus": encoded.opus,
            "txt": files["script.txt"],
            "zip": archive,
            "json": manifest,
        }
        await asyncio.to_thread(library.store, script.locale, script.id, stored)
        return Made(encoded.seconds, len(encoded.mp3), time.perf_counter() - started)


async def refresh_feed(library: BulletinLibrary, info: PodcastInfo, limit: int) -> int:
    """Rebuild the locale's podcast feed from the bulletins on disk; how many it lists."""

    def build() -> int:
        entries = library.entries(info.locale, limit)
        library.write_feed(info.locale, podcast_feed(info, entries))
        return len(entries)

    return await asyncio.to_thread(build)
