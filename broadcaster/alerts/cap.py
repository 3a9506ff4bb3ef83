"""One CAP 1.2 alert as XML: an `<info>` per language, the workspace's area, signed when
a key is configured (see `signing.py`).

Element order follows the OASIS CAP 1.2 schema, which readers validate against.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from lxml import etree

from broadcaster.alerts.messages import AlertMessage, alert_sender, cap_time
from broadcaster.site.model import contacts_from
from broadcaster.text.render import Publication
from broadcaster.text.strings import text
from broadcaster.workspace.alerts import AlertArea
from broadcaster.workspace.models import DEFAULT_LOCALE

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MEDIA_TYPE = "application/cap+xml"
# RFC 3066 language tags CAP readers expect, for the workspace's two-letter locales.
LANGUAGES = {"vi": "vi-VN", "en": "en-US"}


def language_tag(locale: str) -> str:
    """`vi` -> `vi-VN`, `en` -> `en-US`; a locale with a region stays as it is."""
    return LANGUAGES.get(locale, locale)


def _add(parent: etree._Element, name: str, value: str | None) -> None:
    if value:
        etree.SubElement(parent, f"{{{CAP_NS}}}{name}").text = value


def contact_line(publication: Publication, locale: str) -> str:
    """The support contacts in one line: `name (unit): phone, email; ...`."""
    parts = []
    for contact in contacts_from(publication.campaign.data, "contacts", locale):
        reach = ", ".join(v for v in (contact.phone, contact.email) if v)
        who = f"{contact.name} ({contact.unit})" if contact.unit else contact.name
        parts.append(f"{who}: {reach}" if reach else who)
    return "; ".join(parts)


def _description(message: AlertMessage, locale: str) -> str:
    publication = message.publication
    content = publication.content(locale)
    notice = publication.notice
    if message.msg_type == "Cancel":
        intro = text("withdrawn_intro", locale).replace("{title}", content.title)
        intro = intro.replace("{date}", f"{publication.published_at:%d/%m/%Y}")
        reason = notice.reason if notice is not None else ""
        return f"{intro}\n\n{text('withdrawn_reason', locale)}: {reason}" if reason else intro
    body = f"{content.summary}\n\n{content.text}".strip()
    changes = publication.campaign.doc(content.locale).changes
    if message.msg_type == "Update" and changes:
        return f"{text('changes_heading', locale)}: {changes}\n\n{body}"
    return body


def _info(root: etree._Element, message: AlertMessage, locale: str, area: AlertArea | None) -> None:
    publication = message.publication
    campaign, content = publication.campaign, publication.content(locale)
    alert = campaign.alert
    assert alert is not None
    info = etree.SubElement(root, f"{{{CAP_NS}}}info")
    _add(info, "language", language_tag(content.locale))
    for category in alert.category:
        _add(info, "category", category)
    _add(info, "event", alert.event.get(content.locale) or content.title)
    for response in alert.response_type:
        _add(info, "responseType", response)
    cancelled = message.msg_type == "Cancel"
    _add(info, "urgency", "Past" if cancelled else alert.urgency)
    _add(info, "severity", alert.severity)
    _add(info, "certainty", alert.certainty)
    _add(info, "effective", cap_time(campaign.valid_from))
    if campaign.expires is not None:
        _add(info, "expires", cap_time(campaign.expires))
    _add(info, "senderName", campaign.issuer_name(content.locale))
    headline = content.title
    if cancelled:
        headline = text("withdrawn_subject", locale).replace("{title}", headline)
    elif message.msg_type == "Update":
        headline = f"{text('updated_subject', locale)} {headline}"
    _add(info, "headline", headline)
    _add(info, "description", _description(message, locale))
    _add(info, "web", publication.url(locale))
    _add(info, "contact", contact_line(publication, content.locale))
    if area is not None:
        _area(info, area, content.locale)


def _area(info: etree._Element, area: AlertArea, locale: str) -> None:
    element = etree.SubElement(info, f"{{{CAP_NS}}}area")
    _add(element, "areaDesc", _localized(area.area, locale))
    for polygon in area.polygons:
        _add(element, "polygon", polygon)
    for name, value in area.geocodes:
        geocode = etree.SubElement(element, f"{{{CAP_NS}}}geocode")
        _add(geocode, "valueName", name)
        _add(geocode, "value", value)


def _localized(values: Mapping[str, str], locale: str) -> str:
    return values.get(locale) or values.get(DEFAULT_LOCALE) or next(iter(values.values()))


def alert_element(message: AlertMessage, area: AlertArea | None) -> etree._Element:
    """The `<alert>` of one message, unsigned."""
    publication = message.publication
    alert = publication.campaign.alert
    assert alert is not None
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _add(root, "identifier", message.identifier)
    _add(root, "sender", message.sender)
    _add(root, "sent", cap_time(message.sent))
    _add(root, "status", alert.status)
    _add(root, "msgType", message.msg_type)
    _add(root, "scope", "Public")
    notice = publication.notice
    if message.msg_type == "Cancel" and notice is not None and notice.reason:
        _add(root, "note", notice.reason)
    if message.references:
        _add(root, "references", " ".join(m.reference for m in message.references))
    for locale in publication.campaign.locales:
        _info(root, message, locale, area)
    return root


def preview_alert(publication: Publication, area: AlertArea | None, base_url: str) -> bytes | None:
    """The CAP `Alert` a first publication would make, unsigned, or None when the campaign
    is not an alert; its identifier ends in `.preview` rather than a publication number."""
    if publication.campaign.alert is None:
        return None
    host = urlsplit(base_url).hostname or "localhost"
    message = AlertMessage(
        f"{host}.{publication.campaign.id}.preview",
        alert_sender(area, host),
        "Alert",
        publication.published_at,
        publication,
    )
    element = alert_element(message, area)
    data: bytes = etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
