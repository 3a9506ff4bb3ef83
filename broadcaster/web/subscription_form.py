"""Reading and checking what a subscribe or preferences form sends, as HTML form or JSON."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from broadcaster.subscribers.addresses import InvalidAddress, NonAsciiLocalPart, normalise
from broadcaster.workspace.models import DEFAULT_LOCALE, Frequency

# A subscribe form is a few hundred bytes; anything far larger is not a person.
MAX_BODY = 16 * 1024
MAX_FIELDS = 64
# Hidden from people (CSS and aria-hidden); a bot that fills it gets a success page.
HONEYPOT = "website"
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"


class BodyTooLarge(Exception):
    """The request body is over MAX_BODY."""


class UnreadableBody(Exception):
    """Not a form or JSON object we can read; `reason` is a string key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fields:
    """What the request sent, as typed (kept to fill the form again on an error)."""

    email: str = ""
    locale: str = ""
    topics: tuple[str, ...] = ()
    frequency: str = ""
    honeypot: bool = False


@dataclass(frozen=True)
class Preferences:
    """Valid topics, language and frequency."""

    locale: str
    topics: tuple[str, ...]
    frequency: Frequency


@dataclass(frozen=True)
class Choice:
    """A valid subscribe request: the address (normalised) and its preferences."""

    email: str
    preferences: Preferences


def wants_json(request: web.Request) -> bool:
    """True when the request body is JSON (so the answer is JSON too)."""
    return request.content_type == JSON_TYPE


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The whole body, refusing more than `limit` bytes without reading further."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge
    return body


def parse_form(body: bytes) -> tuple[list[tuple[str, str]], bool]:
    """Name/value pairs of an urlencoded body, and whether it was one (not garbled)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return [], False
    return pairs, True


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else ""


async def read_fields(request: web.Request) -> Fields:
    """The subscribe or preferences fields from a form or JSON body."""
    body = await read_body(request)
    if wants_json(request):
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            raise UnreadableBody("sub_error_body") from None
        except RecursionError:  # thousands of nested brackets fit in MAX_BODY
            raise UnreadableBody("sub_error_nested") from None
        if not isinstance(data, dict):
            raise UnreadableBody("sub_error_body")
        raw_topics = data.get("topics")
        if isinstance(raw_topics, str):
            topics: tuple[str, ...] = (raw_topics,)
        elif isinstance(raw_topics, list):
            topics = tuple(t if isinstance(t, str) else repr(t) for t in raw_topics)
        else:
            topics = ()
        return Fields(
            email=_as_text(data.get("email")).strip(),
            locale=_as_text(data.get("locale")).strip(),
            topics=topics,
            frequency=_as_text(data.get("frequency")).strip(),
            honeypot=bool(data.get(HONEYPOT)),
        )
    if request.content_type not in (FORM_TYPE, ""):
        raise UnreadableBody("sub_error_body")
    pairs, ok = parse_form(body)
    if not ok:
        raise UnreadableBody("sub_error_body")
    single: dict[str, str] = {}
    for name, value in pairs:
        if name != "topics":
            single.setdefault(name, value)
    return Fields(
        email=single.get("email", "").strip(),
        locale=single.get("locale", "").strip(),
        topics=tuple(value for name, value in pairs if name == "topics"),
        frequency=single.get("frequency", "").strip(),
        honeypot=bool(single.get(HONEYPOT, "").strip()),
    )


def normalise_email(address: str) -> str:
    """The address as the list keeps it (syntax only, no DNS); InvalidAddress if bad."""
    if not address or len(address) > 254:
        raise InvalidAddress("no address")
    return normalise(address)


def check_preferences(
    fields: Fields, *, topics: Collection[str], locales: Collection[str]
) -> tuple[Preferences | None, dict[str, str]]:
    """Preferences when topics, locale and frequency are valid, and the errors by field.

    Error values are string keys (`broadcaster/defaults/strings.yaml`), shown in the
    reader's language.
    """
    errors: dict[str, str] = {}
    locale = fields.locale or DEFAULT_LOCALE
    if locale not in locales:
        errors["locale"] = "sub_error_locale"
    if not fields.topics:
        errors["topics"] = "sub_error_topics_none"
    elif any(topic not in topics for topic in fields.topics):
        errors["topics"] = "sub_error_topics_unknown"
    frequency = Frequency.IMMEDIATE
    try:
        frequency = Frequency(fields.frequency or Frequency.IMMEDIATE)
    except ValueError:
        errors["frequency"] = "sub_error_frequency"
    if errors:
        return None, errors
    return Preferences(locale, tuple(dict.fromkeys(fields.topics)), frequency), errors


def check_subscribe(
    fields: Fields, *, topics: Collection[str], locales: Collection[str]
) -> tuple[Choice | None, dict[str, str]]:
    """A Choice when every field is valid, and the errors by field (values: string keys)."""
    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalise_email(fields.email)
    except NonAsciiLocalPart:
        errors["email"] = "sub_error_email_ascii"
    except InvalidAddress:
        errors["email"] = "sub_error_email"
    preferences, more = check_preferences(fields, topics=topics, locales=locales)
    errors.update(more)
    if errors or preferences is None:
        return None, errors
    return Choice(email, preferences), errors
