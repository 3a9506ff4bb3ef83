"""The radio read-aloud script: what a presenter reads on air, shared by partner channels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from broadcaster.text.plaintext import markdown_to_text
from broadcaster.text.render import Publication, Templates
from broadcaster.text.spoken import format_duration, reading_time, speakable

_BLANK_LINES = re.compile(r"\n{3,}")
# Rules and quote marks mean nothing on air.
_RULE_LINE = re.compile(r"^[ \t]*[-=|+: ]{3,}[ \t]*$", re.MULTILINE)


def _for_air(text: str) -> str:
    text = _RULE_LINE.sub("", text)
    text = "\n".join(line.lstrip("> ").rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class RadioScript:
    """The read-aloud text and how long it takes to read on air."""

    locale: str
    text: str
    seconds: int
    duration: str  # the reading time in words, in the script's language

    @property
    def spoken(self) -> str:
        """What is read on air: the script without its heading lines (the first paragraph:
        title of the script, reading time, document number), which are for the presenter."""
        heading, _, rest = self.text.partition("\n\n")
        return rest.strip() or heading.strip()


def radio_script(publication: Publication, locale: str, templates: Templates) -> str:
    """Plain text for a presenter: abbreviations expanded, numbers and links speakable."""
    return read_aloud(publication, locale, templates).text


def read_aloud(publication: Publication, locale: str, templates: Templates) -> RadioScript:
    """The radio script with its estimated reading time."""
    content = publication.content(locale)
    speech_locale = content.locale
    speech = publication.workspace.glossary.for_locale(speech_locale)
    campaign = publication.campaign

    def say(text: str) -> str:
        return speakable(text, speech, speech_locale)

    title, summary = say(content.title), say(content.summary)
    body = say(_for_air(markdown_to_text(content.markdown, width=None, table_rows=True)))
    issuer = say(campaign.issuer_name(speech_locale))
    seconds = reading_time(" ".join((issuer, title, summary, body)), speech.words_per_minute)
    duration = format_duration(seconds, speech_locale)
    text = templates.render(
        "radio/script.txt",
        locale=speech_locale,
        duration=duration,
        reference=campaign.reference,
        issuer=issuer,
        title=title.rstrip("."),
        summary=summary,
        body=body,
    )
    return RadioScript(speech_locale, text, seconds, duration)
