"""Rendering: templates (workspace first, then built-in) and a campaign's text per locale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from broadcaster.text import strings
from broadcaster.text.markup import nfc, to_html
from broadcaster.text.notice import Notice, NoticeKind
from broadcaster.text.plaintext import markdown_to_text
from broadcaster.workspace.models import DEFAULT_LOCALE, Campaign, Workspace
from broadcaster.workspace.sandbox import render_body


class Templates:
    """Jinja2 templates: `<workspace>/templates/` overrides the ones shipped in the package."""

    def __init__(self, workspace_templates: Path | None) -> None:
        loaders: list[Any] = []
        if workspace_templates is not None and workspace_templates.is_dir():
            loaders.append(FileSystemLoader(str(workspace_templates)))
        loaders.append(PackageLoader("broadcaster", "templates"))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html", "xml")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.globals.update(t=strings.text, language_name=strings.language_name)
        self.env.filters.update(long_date=strings.long_date, date_time=strings.date_time)

    def render(self, name: str, **context: Any) -> str:
        """Render template `name` (for example 'website/page.html') with `context`."""
        return nfc(self.env.get_template(name).render(**context))


def body_context(campaign: Campaign, locale: str) -> dict[str, Any]:
    """The names a campaign body may use: plain data only, never Python objects."""
    return {
        "data": campaign.data,
        "locale": locale,
        "campaign": {
            "id": campaign.id,
            "reference": campaign.reference,
            "priority": str(campaign.priority),
            "topics": list(campaign.topics),
            "valid_from": campaign.valid_from.isoformat(),
            "expires": campaign.expires.isoformat() if campaign.expires else None,
            "issuer": campaign.issuer_name(locale),
        },
    }


@dataclass(frozen=True)
class Content:
    """A campaign's text in one locale, rendered once and shared by every channel."""

    locale: str
    title: str
    summary: str
    markdown: str
    html: str
    text: str


def render_content(campaign: Campaign, locale: str) -> Content:
    """Run the body template in the sandbox, then produce HTML and plain text."""
    doc = campaign.docs[locale]
    markdown = render_body(doc.body, doc.path, body_context(campaign, locale))
    return Content(
        locale=locale,
        title=nfc(doc.title),
        summary=nfc(doc.summary),
        markdown=nfc(markdown),
        html=to_html(markdown),
        text=markdown_to_text(markdown),
    )


@dataclass(frozen=True)
class Publication:
    """One campaign revision going out: what every channel's `render` receives."""

    workspace: Workspace
    campaign: Campaign
    base_url: str
    published_at: datetime
    contents: Mapping[str, Content]
    # A correction of an earlier publication, or a withdrawal; None: a first publication.
    notice: Notice | None = None

    @classmethod
    def prepare(
        cls,
        workspace: Workspace,
        campaign: Campaign,
        base_url: str,
        published_at: datetime,
        notice: Notice | None = None,
    ) -> Publication:
        """Render the campaign's text once per locale it is written in."""
        contents = {loc: render_content(campaign, loc) for loc in campaign.locales}
        return cls(workspace, campaign, base_url.rstrip("/"), published_at, contents, notice)

    @property
    def is_correction(self) -> bool:
        return self.notice is not None and self.notice.kind == NoticeKind.CORRECTION

    @property
    def is_withdrawal(self) -> bool:
        return self.notice is not None and self.notice.kind == NoticeKind.WITHDRAWAL

    def content(self, locale: str) -> Content:
        """The text in `locale`, or in the default locale when the campaign lacks it."""
        return self.contents.get(locale) or self.contents[DEFAULT_LOCALE]

    def url(self, locale: str) -> str:
        """The campaign's page on the website in `locale`."""
        return f"{self.base_url}/{self.content(locale).locale}/{self.campaign.id}/"

    def alternates(self) -> list[tuple[str, str]]:
        """(locale, url) for every locale the campaign is written in."""
        return [(loc, self.url(loc)) for loc in self.campaign.locales]

    def topic_names(self, locale: str) -> list[str]:
        topics = self.workspace.topics
        return [topics[t].name(locale) if t in topics else t for t in self.campaign.topics]

    def entry_id(self, locale: str) -> str:
        """A permanent id for the campaign's feed entry in `locale`; revisions keep it."""
        host = self.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        day = f"{self.campaign.valid_from:%Y-%m-%d}"
        return f"tag:{host},{day}:campaign/{self.campaign.id}/{self.content(locale).locale}"
