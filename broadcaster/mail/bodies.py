"""A publication's email text: subject, plain text and HTML (CSS inlined), per locale.

Both email channels write their messages from the same templates; what differs is in
the context they pass (list links for subscribers, files and the radio script for the
desk).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import css_inline

from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import text


def bodies(
    templates: Templates,
    publication: Publication,
    locale: str,
    *,
    audience: str,
    links: Mapping[str, str],
    desk: Mapping[str, object] | None = None,
    withdrawn_at: datetime | None = None,
) -> tuple[str, str, str]:
    """(subject, plain text, HTML with CSS inlined) for `locale`.

    A withdrawal (`publication.is_withdrawal`) is a short notice of its own, with the
    reason; a correction is the whole text, marked Updated with what changed at the top."""
    content = publication.content(locale)
    context = {
        "publication": publication,
        "content": content,
        "locale": locale,
        "links": links,
        "audience": audience,
        "desk": desk,
        "withdrawn_at": withdrawn_at or publication.published_at,
    }
    template = "email/withdrawal" if publication.is_withdrawal else "email/message"
    html = css_inline.inline(templates.render(f"{template}.html", **context))
    plain = templates.render(f"{template}.txt", **context)
    subject = content.title
    if publication.is_withdrawal:
        return text("withdrawn_subject", locale).replace("{title}", subject), plain, html
    if publication.is_correction:
        subject = f"{text('updated_subject', locale)} {subject}"
    if publication.campaign.priority == "urgent":
        subject = f"{text('urgent_subject', locale)} {subject}"
    return subject, plain, html
