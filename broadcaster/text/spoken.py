"""What a radio presenter reads aloud: spoken abbreviations, phone numbers and addresses,
dates and document numbers in words."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from broadcaster.text.markup import nfc
from broadcaster.text.numbers import EN_MONTH_NAMES, date_words, english_month, reference_words
from broadcaster.workspace.models import LocaleSpeech


@dataclass(frozen=True)
class _Words:
    digits: tuple[str, ...]
    plus: str
    at: str
    # How the punctuation inside host names and e-mail addresses is read.
    symbols: Mapping[str, str]
    # (singular, plural) for hours, minutes and seconds.
    units: tuple[tuple[str, str], ...]
    # The word said before a document number, and the words that may already stand there.
    number: str
    number_words: tuple[str, ...]
    # "<name> at <address>": said when an address comes without its name before it.
    located: str
    country_codes: Mapping[str, str] = field(default_factory=dict)


_WORDS: dict[str, _Words] = {
    "vi": _Words(
        digits=("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"),
        plus="cộng",
        at="a còng",
        symbols={".": "chấm", "-": "gạch ngang", "_": "gạch dưới", "+": "cộng", "/": "gạch chéo"},
        units=(("giờ", "giờ"), ("phút", "phút"), ("giây", "giây")),
        number="số",
        number_words=("số", "số hiệu"),
        located="tại địa chỉ",
        # Presenters say Vietnam's code as the number "tám tư", not digit by digit.
        country_codes={"84": "tám tư"},
    ),
    "en": _Words(
        digits=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        plus="plus",
        at="at",
        symbols={".": "dot", "-": "dash", "_": "underscore", "+": "plus", "/": "slash"},
        units=(("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
        number="number",
        number_words=("number", "no.", "no", "số"),
        located="at",
    ),
}

_Piece = tuple[str, bool]  # (text, already spoken)

# Combining diacritics count as letters, so decomposed Vietnamese still has word boundaries.
_LETTER = r"[\w\u0300-\u036f]"
_PATH = r"""(?:[/?#](?:[^\s<>"]*[^\s<>".,;:!?)\]}'’”»])?)?"""
_HOST = r"[\w-]+(?:\.[\w-]+)+"
_PHONE = re.compile(
    r"""
    (?<![\w/.,+-])                   # not the tail of an amount, a code or another number
    (?: \+(?P<cc>\d{1,3})(?=[ .-]\d)[ .-] | (?P<plus>\+) | \((?P<area>0\d{1,4})\)[ ]?
      | (?=0|1[89]00) )              # domestic numbers and 1800/1900 hotlines
    (?P<body>\d++(?:[ .-]\d++)*+)
    (?![\w/])
    """,
    re.VERBOSE,
)
# Document numbers such as 6176/UBND-KSTT or 01/2021/NĐ-CP are read exactly as written.
_REFERENCE = re.compile(r"(?<![\w/])\d+(?:/[\w.-]*\w)+")
_DATE = re.compile(r"\d{1,2}([ .-])\d{1,2}\1\d{4}")
# Dates as they are written, read in words: 09/07/2021, ngày 9 tháng 7 năm 2021, 9 July 2021.
_WRITTEN_DATES = re.compile(
    rf"""(?<![\w/.-])(?P<prefix>(?i:ngày)\s+)?
    (?: (?P<d1>\d{{1,2}})(?P<sep>[/.-])(?P<m1>\d{{1,2}})(?P=sep)(?P<y1>\d{{4}})
      | (?P<d2>\d{{1,2}})\s+(?i:tháng)\s+(?P<m2>\d{{1,2}})\s+(?i:năm)\s+(?P<y2>\d{{4}})
      | (?P<d3>\d{{1,2}})\s+(?P<mn3>{EN_MONTH_NAMES})\s+(?P<y3>\d{{4}})
      | (?P<mn4>{EN_MONTH_NAMES})\s+(?P<d4>\d{{1,2}}),?\s+(?P<y4>\d{{4}}) )
    (?![\w/])""",
    re.VERBOSE,
)
_YEAR_RANGE = re.compile(r"1[89]\d\d-(?:1[89]|20)\d\d")


def speakable(text: str, speech: LocaleSpeech, locale: str) -> str:
    """`text` as a presenter reads it: abbreviations, phone numbers and addresses spelled out."""
    words = _words(locale)
    domains = {key.lower().removeprefix("www."): name for key, name in speech.domains.items()}
    abbreviations = {nfc(key): value for key, value in speech.abbreviations.items() if key.strip()}
    pieces: list[_Piece] = [(nfc(text), False)]
    addresses = {key.lower().removeprefix("www."): said for key, said in speech.addresses.items()}
    pieces = _replace(
        pieces,
        _address_pattern(tuple(sorted(domains | addresses))),
        lambda m: _address(m, domains, addresses, words),
    )
    pieces = _replace(pieces, _WRITTEN_DATES, lambda m: _date(m, locale))
    pieces = _replace(pieces, _REFERENCE, lambda m: _reference(m, locale, words))
    pieces = _replace(pieces, _PHONE, lambda m: _phone(m, words))
    if abbreviations:
        pattern = _abbreviation_pattern(tuple(sorted(abbreviations)))
        pieces = _replace(pieces, pattern, lambda m: _abbreviation(m, abbreviations))
    spoken = nfc("".join(piece for piece, _ in pieces))
    names = {nfc(name) for name in (*abbreviations.values(), *domains.values()) if name.split()}
    if not names:
        return spoken
    return _repeat_pattern(tuple(sorted(names))).sub(_drop_repeat, spoken)


def reading_time(text: str, words_per_minute: int) -> int:
    """Seconds a presenter needs to read `text`, rounded up to 5 seconds (at least 5)."""
    if words_per_minute < 1:
        raise ValueError(f"words_per_minute must be at least 1, not {words_per_minute}")
    count = sum(1 for token in text.split() if any(char.isalnum() for char in token))
    fives = -(-count * 60 // (words_per_minute * 5))
    return max(5, fives * 5)


def format_duration(seconds: int, locale: str) -> str:
    """A duration in words for `locale`: "1 phút 20 giây", "45 seconds"."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    units = _words(locale).units
    hours, rest = divmod(seconds, 3600)
    amounts = (hours, *divmod(rest, 60))
    parts = [
        f"{amount} {singular if amount == 1 else plural}"
        for amount, (singular, plural) in zip(amounts, units, strict=True)
        if amount
    ]
    return " ".join(parts) or f"0 {units[-1][1]}"


def _words(locale: str) -> _Words:
    language = locale.replace("_", "-").split("-")[0].lower()
    return _WORDS.get(language, _WORDS["en"])


def _replace(
    pieces: list[_Piece], pattern: re.Pattern[str], speak: Callable[[re.Match[str]], str | None]
) -> list[_Piece]:
    """Speak every match in the pieces not yet spoken; `speak` returns None to leave one as is."""
    out: list[_Piece] = []
    for text, spoken in pieces:
        if spoken:
            out.append((text, spoken))
            continue
        position = 0
        for match in pattern.finditer(text):
            words = speak(match)
            if words is None:
                continue
            out += [(text[position : match.start()], False), (words, True)]
            position = match.end()
        out.append((text[position:], False))
    return out


@functools.lru_cache(maxsize=32)
def _address_pattern(domains: tuple[str, ...]) -> re.Pattern[str]:
    known = "".join(f"|{re.escape(d)}" for d in sorted(domains, key=len, reverse=True))
    return re.compile(
        rf"""(?P<url>(?i:https?)://(?:[^\s/?#@<>"]*@)?
                (?P<host>\[[\da-fA-F:.]+\]|[\w-]+(?:\.[\w-]+)*)(?::\d+)?{_PATH})
        |(?<![\w.+-])(?P<local>[\w.+-]+)@(?P<mailhost>{_HOST})
        |(?<![\w.@/:-])(?P<bare>(?i:www\.{_HOST}|(?:[\w-]+\.)+gov\.vn{known}))
            (?![\w-]|\.\w)(?::\d+)?{_PATH}""",
        re.VERBOSE,
    )


def _address(
    match: re.Match[str], domains: Mapping[str, str], addresses: Mapping[str, str], words: _Words
) -> str:
    """An address as a listener can type it; its name first when the text has not just said it."""
    if match["local"]:
        return f"{_spell(match['local'], words)} {words.at} {_spell(match['mailhost'], words)}"
    host = (match["host"] or match["bare"]).lower().removeprefix("www.")
    said = addresses.get(host) or _spell(host, words)
    name = domains.get(host)
    if not name or _just_said(name, match.string[: match.start()]):
        return said
    return f"{name} {words.located} {said}"


def _just_said(name: str, before: str) -> bool:
    """Whether `name` (less a leading "the") is in the sentence or line before an address."""
    recent = re.split(r"[.!?]\s|\n\s*\n", before)[-1]
    wanted = " ".join(re.sub(r"^(?i:the)\s+", "", name).split()).casefold()
    return wanted in " ".join(recent.split()).casefold()


def _date(match: re.Match[str], locale: str) -> str | None:
    for n in "1234":
        if match[f"y{n}"]:
            day, year = int(match[f"d{n}"]), int(match[f"y{n}"])
            month_name = match.groupdict().get(f"mn{n}")
            month = english_month(month_name) if month_name else int(match[f"m{n}"])
            break
    spoken = date_words(day, month or 0, year, locale)
    if spoken is None:
        return None
    prefix = match["prefix"]
    if prefix and spoken.startswith("ngày"):
        return prefix.strip() + spoken.removeprefix("ngày")
    return (prefix or "") + spoken


def _reference(match: re.Match[str], locale: str, words: _Words) -> str | None:
    """A document number in words, after "số" ("number") unless the text says it already."""
    if not re.search(r"[^\W\d_]", match.group()):
        return None  # digits and slashes only: a fraction or a date that is no date
    spoken = reference_words(match.group(), locale, dict(words.symbols))
    before = match.string[: match.start()].rstrip().casefold()
    if any(re.search(rf"(?<!\w){re.escape(word)}$", before) for word in words.number_words):
        return spoken
    return f"{words.number} {spoken}"


def _spell(address: str, words: _Words) -> str:
    """Host names and mailbox names with their punctuation read out: "a chấm vn"."""
    tokens = re.split(r"([.\-_+])", address)
    return " ".join(words.symbols.get(token, token) for token in tokens if token)


def _phone(match: re.Match[str], words: _Words) -> str | None:
    body = match["body"]
    groups = re.findall(r"\d+", body)
    country = match["cc"]
    if match["plus"]:
        # No separator after the country code: assume two digits, as for Vietnam's 84.
        country = groups[0][:2]
        groups = [groups[0][2:], *groups[1:]] if len(groups[0]) > 2 else groups[1:]
    elif match["area"]:
        groups.insert(0, match["area"])
    digits = "".join(groups)
    total = len(digits) + len(country or "")
    local = not (country or match["area"])
    if not 8 <= total <= 13 or len(set(re.findall(r"[ .-]", body))) > 1:
        return None
    if local and (_DATE.fullmatch(body) or _YEAR_RANGE.fullmatch(body)):
        return None
    if not all(2 <= len(group) <= 4 for group in groups):
        groups = _even_groups(digits)
    spoken = [" ".join(words.digits[int(d)] for d in group) for group in groups]
    if country:
        code = words.country_codes.get(country) or " ".join(words.digits[int(d)] for d in country)
        spoken.insert(0, f"{words.plus} {code}")
    return ", ".join(spoken)


def _even_groups(digits: str) -> list[str]:
    """Split a run of digits into groups of 2 to 4, longer groups first: 0905 123 456."""
    count = -(-len(digits) // 4)
    size, longer = divmod(len(digits), count)
    groups: list[str] = []
    for index in range(count):
        length = size + (index < longer)
        groups.append(digits[:length])
        digits = digits[length:]
    return groups


@functools.lru_cache(maxsize=32)
def _abbreviation_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = []
    for key in sorted(keys, key=len, reverse=True):
        before = rf"(?<!{_LETTER})" if re.match(r"\w", key[0]) else ""
        after = rf"(?!{_LETTER})" if re.match(r"\w", key[-1]) else ""
        alternatives.append(before + re.escape(key) + after)
    return re.compile("|".join(alternatives))


def _abbreviation(match: re.Match[str], abbreviations: Mapping[str, str]) -> str:
    expansion = abbreviations[match.group()]
    following = match.string[match.end() : match.end() + 1]
    # "TP.HCM" with the key "TP." still needs a space before "HCM" once expanded.
    return expansion + " " if following and re.match(r"\w", following) else expansion


@functools.lru_cache(maxsize=32)
def _repeat_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(
        r"\s+".join(map(re.escape, name.split())) for name in sorted(names, key=len, reverse=True)
    )
    return re.compile(
        rf"(?<!{_LETTER})(?P<first>{alternatives})\s*\((?P<second>{alternatives})\)", re.IGNORECASE
    )


def _drop_repeat(match: re.Match[str]) -> str:
    """Keep one of "X (X)": "thủ tục hành chính (TTHC)" would otherwise be read out twice."""
    first, second = (" ".join(match[group].split()).casefold() for group in ("first", "second"))
    return match["first"] if first == second else match.group()
