"""Text to speech: espeak-ng by default (offline, with a Vietnamese voice), or an office's
own engine as a command or an HTTP endpoint (`tts:` in a radio channel file).

The interface an engine implements: it is given the text to read (UTF-8) and the locale,
and returns audio in any format ffmpeg reads (WAV, MP3, Ogg, FLAC). A command gets the text
on standard input and writes the audio to `{output}` (or, without `{output}` in its
arguments, to standard output); an HTTP endpoint gets `POST` with the text as
`text/plain; charset=utf-8` and `Content-Language: <locale>`, and answers 200 with the audio.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from broadcaster.bulletins.processes import ToolFailed, run

ESPEAK = "espeak-ng"
# espeak-ng voices per language; any other language uses its own code as the voice name.
DEFAULT_VOICES = {"vi": "vi", "en": "en-gb"}


class SpeechOptions(BaseModel):
    """`tts:` in a radio channel file: which engine reads the script aloud."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["espeak", "command", "http"] = "espeak"
    # espeak: voice per locale (default vi -> vi, en -> en-gb); command: `{voice}` in it.
    voices: dict[str, str] = Field(default_factory=dict)
    # espeak: words per minute; 0 = the glossary's words_per_minute for the locale.
    speed: int = Field(default=0, ge=0, le=500)
    # command: argv; `{locale}`, `{voice}` and `{output}` are filled in.
    command: list[str] = Field(default_factory=list)
    # http: the endpoint, and a bearer token sent with each request (optional).
    url: str = ""
    token: str = Field(default="", json_schema_extra={"secret": True})
    # Seconds one bulletin may take to speak (and, separately, to encode).
    timeout: float = Field(default=60, gt=0, le=600)

    def voice(self, locale: str) -> str:
        """The voice name for `locale`."""
        language = locale.split("-")[0].lower()
        return (
            self.voices.get(locale)
            or self.voices.get(language)
            or (DEFAULT_VOICES.get(language, language))
        )

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for options that contradict the engine chosen."""
        if self.engine == "command" and not self.command:
            return [("command", "tts.engine is command: give tts.command, the program to run")]
        if self.engine == "http" and not self.url.startswith(("http://", "https://")):
            return [("url", "tts.engine is http: give tts.url, an http:// or https:// address")]
        return []


async def speak(text: str, locale: str, options: SpeechOptions, words_per_minute: int) -> bytes:
    """Audio of `text` read aloud in `locale`, in a format ffmpeg reads."""
    if options.engine == "http":
        return await _http(text, locale, options)
    if options.engine == "command":
        return await _command(options.command, text, locale, options)
    speed = options.speed or words_per_minute
    argv = [ESPEAK, "-v", "{voice}", "-s", str(speed), "-w", "{output}", "--stdin"]
    return await _command(argv, text, locale, options)


async def _command(argv: list[str], text: str, locale: str, options: SpeechOptions) -> bytes:
    with tempfile.TemporaryDirectory(prefix="broadcaster-tts-") as folder:
        output = Path(folder) / "speech.wav"
        fields: Mapping[str, str] = {
            "locale": locale,
            "voice": options.voice(locale),
            "output": str(output),
        }
        filled = [part.format_map(fields) for part in argv]
        out = await run(filled, text.encode(), options.timeout)
        if any("{output}" in part for part in argv):
            audio = await asyncio.to_thread(_read_output, output)
            if not audio:
                raise ToolFailed(f"{filled[0]} wrote no audio to {{output}}", temporary=False)
            return audio
    if not out:
        raise ToolFailed(f"{filled[0]} wrote no audio to its standard output", temporary=False)
    return out


def _read_output(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


async def _http(text: str, locale: str, options: SpeechOptions) -> bytes:
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Language": locale,
        "Accept": "audio/*",
    }
    if options.token:
        headers["Authorization"] = f"Bearer {options.token}"
    timeout = aiohttp.ClientTimeout(total=options.timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(options.url, data=text.encode(), headers=headers) as response,
        ):
            body = await response.read()
            if response.status != 200:
                temporary = response.status in (408, 429) or response.status >= 500
                raise ToolFailed(
                    f"speech endpoint {options.url} answered {response.status}",
                    temporary=temporary,
                )
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ToolFailed(f"speech endpoint {options.url}: {error!r}", temporary=True) from error
    if not body:
        raise ToolFailed(f"speech endpoint {options.url} answered no audio", temporary=False)
    return body
