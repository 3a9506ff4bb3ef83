"""Who sees what: sections per reader and the variant keys renditions are stored under."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broadcaster.publishing.digests.compose import (
    LOCALE_KEY_LENGTH,
    DigestReader,
    sections_for,
    variant_key,
)
from broadcaster.publishing.digests.snapshot import DigestEntry, DigestEntryText

T0 = datetime(2021, 7, 12, 1, tzinfo=UTC)
ORDER = ["online-services", "support-contacts", "covid-19-measures"]


def entry(number: int, topics: tuple[str, ...], hours: int = 1) -> DigestEntry:
    text = DigestEntryText(f"title {number}", "summary", f"https://x.example.vn/vi/c{number}/")
    return DigestEntry(
        number, f"c{number}", topics, False, T0 + timedelta(hours=hours), T0, {"vi": text}
    )


ENTRIES = [
    entry(1, ("online-services", "covid-19-measures")),
    entry(2, ("support-contacts",)),
    entry(3, ("covid-19-measures",), hours=5),
]


def reader(topics: set[str], since: datetime = T0, locale: str = "vi") -> DigestReader:
    return DigestReader(1, locale, frozenset(topics), since)


def test_each_publication_is_listed_once_under_the_first_chosen_topic() -> None:
    sections = sections_for(reader({"covid-19-measures", "online-services"}), ENTRIES, ORDER)
    assert [(s.topic, [e.publication_id for e in s.entries]) for s in sections] == [
        ("online-services", [1]),
        ("covid-19-measures", [3]),
    ]


def test_only_publications_after_the_last_digest_and_none_for_other_topics() -> None:
    later = sections_for(
        reader({"covid-19-measures"}, since=T0 + timedelta(hours=2)), ENTRIES, ORDER
    )
    assert [[e.publication_id for e in s.entries] for s in later] == [[3]]
    assert sections_for(reader({"commune-support"}), ENTRIES, ORDER) == ()


def test_variant_keys_fit_the_locale_column_and_follow_the_content() -> None:
    covid = sections_for(reader({"covid-19-measures"}), ENTRIES, ORDER)
    contacts = sections_for(reader({"support-contacts"}), ENTRIES, ORDER)
    key = variant_key("vi", covid)
    assert key.startswith("vi|")
    assert len(key) <= LOCALE_KEY_LENGTH
    assert key == variant_key("vi", sections_for(reader({"covid-19-measures"}), ENTRIES, ORDER))
    assert key != variant_key("en", covid)
    assert key != variant_key("vi", contacts)
