"""`tts:` options: voices per locale, and what `check` says about a speech engine."""

from __future__ import annotations

from pathlib import Path

from broadcaster.bulletins.speech import SpeechOptions
from broadcaster.channels.radio import RadioOptions

TITLE = {"vi": "Bản tin", "en": "Bulletins"}


def test_voices_default_per_language_and_can_be_chosen() -> None:
    assert SpeechOptions().voice("vi") == "vi"
    assert SpeechOptions().voice("en") == "en-gb"
    chosen = SpeechOptions(voices={"vi": "vi-female", "en-US": "en-us"})
    assert chosen.voice("vi") == "vi-female"
    assert chosen.voice("en-US") == "en-us"
    assert chosen.voice("en") == "en-gb"


def test_check_names_the_missing_engine_option_and_program(tmp_path: Path) -> None:
    options = RadioOptions.model_validate(
        {"type": "radio", "title": TITLE, "tts": {"engine": "command"}}
    )
    problems = list(options.file_problems(tmp_path))
    assert [(p.loc, p.warning) for p in problems] == [(("tts", "command"), False)]
    assert "give tts.command" in problems[0].message

    http = RadioOptions.model_validate(
        {"type": "radio", "title": TITLE, "tts": {"engine": "http", "url": "ftp://x"}}
    )
    assert "an http:// or https:// address" in next(iter(http.file_problems(tmp_path))).message

    missing = RadioOptions.model_validate(
        {
            "type": "radio",
            "title": TITLE,
            "tts": {"engine": "command", "command": ["/nonexistent/voice", "{output}"]},
        }
    )
    (problem,) = [p for p in missing.file_problems(tmp_path) if "/nonexistent/" in p.message]
    assert problem.warning
    assert "/nonexistent/voice is not installed here" in problem.message
