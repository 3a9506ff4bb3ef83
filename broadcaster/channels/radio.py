"""The radio channel: the read-aloud script rendered to audio per locale (MP3, Ogg Opus),
a signed bundle per bulletin for IP loudspeaker systems, and a podcast feed per locale."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field

from broadcaster.bulletins.bundle import signing_key
from broadcaster.bulletins.library import LIBRARY, BulletinLibrary
from broadcaster.bulletins.names import bulletin_id, bulletin_urls
from broadcaster.bulletins.podcast import PodcastInfo, clock
from broadcaster.bulletins.processes import ToolFailed
from broadcaster.bulletins.speech import ESPEAK, SpeechOptions
from broadcaster.bulletins.studio import Script, make_bulletin, refresh_feed
from broadcaster.channels.base import (
    ChannelOptions,
    DeliveryJob,
    DeliveryRejected,
    FileProblem,
    Rendition,
    Resources,
    RetryLater,
    masked,
)
from broadcaster.settings import Settings
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import localized
from broadcaster.workspace.schema import LocalizedText

RETRY_AFTER = timedelta(minutes=1)


class RadioOptions(ChannelOptions):
    type: Literal["radio"]
    title: LocalizedText
    description: LocalizedText = Field(default_factory=dict)
    author: LocalizedText = Field(default_factory=dict)
    category: str = "Government"
    image: str = ""
    max_entries: int = Field(default=50, ge=1, le=1000)
    tts: SpeechOptions = Field(default_factory=SpeechOptions)

    def file_problems(self, root: Path) -> Iterator[FileProblem]:
        """The speech engine's options, and whether the programs it needs are installed."""
        for field, message in self.tts.problems():
            yield FileProblem(("tts", field), message)
        needed = ["ffmpeg", "ffprobe"]
        if self.tts.engine == "espeak":
            needed.insert(0, ESPEAK)
        elif self.tts.command:
            needed.insert(0, self.tts.command[0])
        for program in needed:
            if shutil.which(program) is None:
                yield FileProblem(
                    ("tts",),
                    f"{program} is not installed here: bulletins cannot be rendered until it "
                    f"is (Debian: apt-get install espeak-ng ffmpeg)",
                    warning=True,
                )


class RadioChannel:
    """Renders the script per locale; delivering speaks, encodes and signs the bulletin."""

    Options: ClassVar[type[ChannelOptions]] = RadioOptions
    type: ClassVar[str] = "radio"

    def __init__(
        self, name: str, options: RadioOptions, templates: Templates, settings: Settings
    ) -> None:
        self.name = name
        self.options = options
        self.templates = templates
        self.settings = settings
        self.library = BulletinLibrary(settings.root / LIBRARY)
        self._turn = asyncio.Lock()

    @classmethod
    def from_config(cls, name: str, options: Any, resources: Resources) -> Self:
        return cls(name, options, resources.templates, resources.settings)

    async def start(self, stack: AsyncExitStack) -> None:
        """Nothing to open: engines run per bulletin."""

    async def recipients(self, publication: Publication) -> AsyncIterator[list[tuple[str, str]]]:
        """One bulletin per locale the campaign is written in."""
        yield [(locale, locale) for locale in publication.campaign.locales]

    def render(self, publication: Publication, locale: str) -> Rendition:
        """What the bulletin is made of: the script, what is spoken, and its manifest fields."""
        script = read_aloud(publication, locale, self.templates)
        campaign, content = publication.campaign, publication.content(locale)
        ident = bulletin_id(campaign.id, campaign.revision)
        fields = {
            "schema_version": 1,
            "id": ident,
            "campaign": campaign.id,
            "revision": campaign.revision,
            "locale": script.locale,
            "title": content.title,
            "summary": content.summary,
            "issuer": campaign.issuer_name(script.locale),
            "reference": campaign.reference,
            "published_at": publication.published_at.isoformat(),
            "url": publication.url(locale),
            "reading_seconds": script.seconds,
            "audio": bulletin_urls(
                publication.base_url, script.locale, campaign.id, campaign.revision
            ),
        }
        speech = publication.workspace.glossary.for_locale(script.locale)
        body = {
            "script": script.text,
            "spoken": script.spoken,
            "words_per_minute": speech.words_per_minute,
            "base_url": publication.base_url,
            "fields": fields,
        }
        data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()
        return Rendition(
            channel=self.name,
            locale=locale,
            media_type="application/json",
            body=data,
            summary=f"bulletin {script.locale}/{ident}: about {script.duration} of audio",
            files={"bulletin.json": data},
        )

    def _podcast(self, locale: str, base_url: str) -> PodcastInfo:
        options = self.options
        title = localized(options.title, locale)
        return PodcastInfo(
            title=title,
            description=localized(options.description, locale) or title,
            author=localized(options.author, locale) or title,
            category=options.category,
            image=options.image,
            site_url=f"{base_url}/{locale}/",
            feed_url=f"{base_url}/feeds/{locale}/radio.rss",
            locale=locale,
        )

    async def deliver(self, job: DeliveryJob) -> str:
        """Speak, encode, sign and store the bulletin, then rebuild the podcast feed."""
        body = json.loads(await job.rendition())
        fields = body["fields"]
        locale, ident = fields["locale"], fields["id"]
        script = Script(
            id=ident,
            locale=locale,
            text=body["script"],
            spoken=body["spoken"],
            words_per_minute=body["words_per_minute"],
            published_at=datetime.fromisoformat(fields["published_at"]),
            fields=fields,
        )
        made = "already rendered"
        if not await asyncio.to_thread(self.library.has, locale, ident):
            key = signing_key(self.settings.secret_key)
            try:
                result = await make_bulletin(
                    script, self.options.tts, self.library, key, self._turn
                )
            except ToolFailed as error:
                if error.temporary:
                    raise RetryLater(f"rendering the bulletin: {error}", RETRY_AFTER) from error
                raise DeliveryRejected(f"rendering the bulletin: {error}") from error
            made = (
                f"{clock(result.seconds)} of audio, {result.mp3_bytes // 1024} kB MP3, "
                f"made in {result.took:.1f} s"
            )
        info = self._podcast(locale, body["base_url"])
        listed = await refresh_feed(self.library, info, self.options.max_entries)
        return f"bulletin {locale}/{ident}: {made}; the radio feed lists {listed}"

    def describe(self) -> Mapping[str, object]:
        return masked(self.options)
