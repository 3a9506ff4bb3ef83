"""Numbers, dates and document numbers in words, as a presenter reads them on air."""

from __future__ import annotations

import re

from num2words import num2words

_VI_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_VI_SCALES = ("", "nghìn", "triệu", "tỷ")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _language(locale: str) -> str:
    return locale.replace("_", "-").split("-")[0].lower()


def _vi_hundreds(number: int, leading: bool) -> list[str]:
    """One group of three digits; inside a longer number it keeps "không trăm" and "lẻ"."""
    hundreds, rest = divmod(number, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or not leading:
        words += [_VI_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("lẻ")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_VI_DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens >= 2:
            words.append("mốt")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        elif units == 4 and tens >= 2:
            words.append("tư")
        else:
            words.append(_VI_DIGITS[units])
    return words


def vietnamese_number(number: int) -> str:
    """A whole number in Vietnamese words: 2021 -> "hai nghìn không trăm hai mươi mốt"."""
    if number < 0:
        return "âm " + vietnamese_number(-number)
    if number == 0:
        return _VI_DIGITS[0]
    groups: list[int] = []
    while number:
        number, group = divmod(number, 1000)
        groups.append(group)
    if len(groups) > len(_VI_SCALES):
        return " ".join(_VI_DIGITS[int(d)] for d in str(number))
    words: list[str] = []
    top = len(groups) - 1
    for scale in range(top, -1, -1):
        group = groups[scale]
        if group == 0:
            continue
        words += _vi_hundreds(group, leading=scale == top)
        if _VI_SCALES[scale]:
            words.append(_VI_SCALES[scale])
    return " ".join(words)


def number_words(number: int, locale: str) -> str:
    """A whole number in words for `locale` (English for any language without its own)."""
    if _language(locale) == "vi":
        return vietnamese_number(number)
    return str(num2words(number, lang="en")).replace(",", "")


def date_words(day: int, month: int, year: int, locale: str) -> str | None:
    """A date as it is read aloud, or None when it is no date.

    vi: "ngày chín tháng bảy năm hai nghìn không trăm hai mươi mốt";
    en: "the ninth of July twenty twenty-one".
    """
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if _language(locale) == "vi":
        month_word = "tư" if month == 4 else vietnamese_number(month)
        return f"ngày {vietnamese_number(day)} tháng {month_word} năm {vietnamese_number(year)}"
    ordinal = num2words(day, to="ordinal", lang="en")
    return f"the {ordinal} of {_EN_MONTHS[month - 1]} {num2words(year, to='year', lang='en')}"


def english_month(name: str) -> int | None:
    """1 to 12 for an English month name ("July", "july"), else None."""
    lowered = name.lower()
    for index, month in enumerate(_EN_MONTHS, start=1):
        if month.lower() == lowered:
            return index
    return None


def english_month_name(month: int) -> str:
    """ "July" for 7."""
    return _EN_MONTHS[month - 1]


EN_MONTH_NAMES = "|".join(_EN_MONTHS)

_PART = re.compile(r"(\d+|[^\W\d_]+|[/.\-])")


def reference_words(reference: str, locale: str, symbols: dict[str, str]) -> str:
    """A document number as it is said: 6176/UBND-KSTT ->
    "sáu nghìn một trăm bảy mươi sáu, gạch chéo, U-B-N-D, gạch ngang, K-S-T-T"."""
    words: list[str] = []
    for part in _PART.findall(reference):
        if part in symbols:
            words.append(f", {symbols[part]},")
        elif part.isdigit():
            spoken_digits = (
                " ".join(number_words(int(d), locale) for d in part)
                if part.startswith("0") and len(part) > 1
                else number_words(int(part), locale)
            )
            words.append(spoken_digits)
        elif part.isupper() and len(part) > 1:
            words.append("-".join(part))
        else:
            words.append(part)
    return " ".join(words).replace(" ,", ",")
