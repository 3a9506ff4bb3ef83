"""Encoding spoken audio with ffmpeg: MP3 (what every loudspeaker and podcast app plays)
and Ogg Opus (a quarter of the size), with the duration measured by ffprobe."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from broadcaster.bulletins.processes import ToolFailed, run

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"


@dataclass(frozen=True)
class Encoded:
    """One bulletin's audio in both formats, and how long it plays."""

    mp3: bytes
    opus: bytes
    seconds: float


def _read(folder: Path) -> tuple[bytes, bytes]:
    return (folder / "bulletin.mp3").read_bytes(), (folder / "bulletin.opus").read_bytes()


async def encode(audio: bytes, limit: float) -> Encoded:
    """`audio` (any format ffmpeg reads) as mono MP3 (64 kbit/s) and Ogg Opus (32 kbit/s)."""
    with tempfile.TemporaryDirectory(prefix="broadcaster-audio-") as name:
        folder = Path(name)
        # ffmpeg reads the container from the bytes; MP3 needs a seekable input to be
        # probed well, so the audio goes through a file rather than a pipe.
        source = folder / "speech"
        await asyncio.to_thread(source.write_bytes, audio)
        head = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
        to_mp3 = [*head, "-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k"]
        to_mp3 += ["-compression_level", "7", str(folder / "bulletin.mp3")]
        to_opus = [*head, "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k"]
        to_opus += [
            "-application",
            "voip",
            "-compression_level",
            "5",
            str(folder / "bulletin.opus"),
        ]
        # Two processes, one core each: both formats are ready in the time of the slower.
        await asyncio.gather(run(to_mp3, None, limit), run(to_opus, None, limit))
        seconds = await duration(folder / "bulletin.mp3", limit)
        mp3, opus = await asyncio.to_thread(_read, folder)
    return Encoded(mp3, opus, seconds)


async def duration(path: Path, limit: float = 30) -> float:
    """How long the audio file at `path` plays, in seconds (ffprobe)."""
    argv = [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    out = await run([*argv, str(path)], None, limit)
    try:
        return float(out.decode().strip())
    except ValueError as error:
        raise ToolFailed(
            f"ffprobe could not read the duration of {path.name}", temporary=False
        ) from error
