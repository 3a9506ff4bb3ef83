"""The date line of an official document or press release: place and date, as Vietnamese
administrative documents write it ("Khánh Hòa, ngày 09 tháng 7 năm 2021")."""

from __future__ import annotations

from datetime import date

from broadcaster.text.numbers import english_month_name


def date_line(place: str, day: date, locale: str) -> str:
    """vi: "Khánh Hòa, ngày 09 tháng 7 năm 2021"; en: "Khanh Hoa, 9 July 2021".

    Vietnamese follows Decree 30/2020/NĐ-CP on administrative documents: a day under 10 and
    the months 1 and 2 are written with a leading zero (so "tháng 01" is never read as
    "tháng 11")."""
    if locale.split("-")[0].lower() == "vi":
        month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
        written = f"ngày {day.day:02d} tháng {month} năm {day.year}"
    else:
        written = f"{day.day} {english_month_name(day.month)} {day.year}"
    return f"{place}, {written}" if place else written
