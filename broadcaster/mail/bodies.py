"""A publication's email text: subject, plain text and HTML (CSS inlined), per locale.

Both email channels write their messages from the same templates; what differs is in
the context they pass (list links for subscribers, files and the radio script for the
desk).
"""

from __future__ import annotations

from collections.abc import Mapping

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
) -> tuple[str, str, str]:
    """(subject, plain text, HTML with CSS inlined) for `locale`."""
    content = publication.content(locale)
    context = {
        "publication": publication,
        "content": content,
        "locale": locale,
        "links": links,
        "audience": audience,
        "desk": desk,
    }
    html = css_inline.inline(templates.render("email/message.html", **context))
    plain = templates.render("email/message.txt", **context)
    subject = content.title
    if publication.campaign.priority == "urgent":
        subject = f"{text('urgent_subject', locale)} {subject}"
    return subject, plain, html
