"""Whole feeds from the fixture workspace, read back the way aggregators read them.

RSS and Atom go through `feedparser` (what many newsroom tools use); JSON Feed through `json`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import lxml.html
import pytest
from feedgen.feed import FeedGenerator
from lxml import etree

from broadcaster.channels.feed import FeedOptions
from broadcaster.settings import Settings
from broadcaster.site.entries import add_entry, repair_atom_links
from broadcaster.site.feeds import (
    ALL_TOPICS,
    EPOCH,
    Feed,
    FeedCache,
    build_feeds,
    feed_times,
    select_feeds,
)
from broadcaster.text.render import Publication
from broadcaster.text.strings import localized
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace
from tests.conftest import FIXTURE, copy_workspace

BASE_URL = "https://thongtin.example.gov.vn"
LOCALES = ("vi", "en")
IN_2021 = datetime(2021, 8, 1, tzinfo=UTC)
IN_2026 = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRING = "one-stop-covid-measures"  # expires 2021-12-31
ATOM = "http://www.w3.org/2005/Atom"
TITLE_VI = "Thông báo dịch vụ công tỉnh Khánh Hòa"


def load(root: Path) -> Workspace:
    workspace, diagnostics = load_workspace(root, Settings.from_environ(root, environ={}))
    assert workspace is not None, diagnostics
    return workspace


def publish(workspace: Workspace, first: datetime) -> list[Publication]:
    """Every campaign published once, an hour apart, in id order."""
    return [
        Publication.prepare(workspace, campaign, BASE_URL, first + timedelta(hours=i))
        for i, campaign in enumerate(sorted(workspace.campaigns.values(), key=lambda c: c.id))
    ]


def feed_options(workspace: Workspace) -> FeedOptions:
    options = workspace.channels["feeds"].options
    assert isinstance(options, FeedOptions)
    return options


def build(
    workspace: Workspace,
    publications: Sequence[Publication],
    *,
    now: datetime = IN_2021,
    withdrawn: Mapping[str, datetime] | None = None,
    options: FeedOptions | None = None,
) -> dict[str, bytes]:
    return build_feeds(
        publications,
        withdrawn=withdrawn or {},
        now=now,
        options=options or feed_options(workspace),
        base_url=BASE_URL,
        topics=workspace.topics,
        locales=LOCALES,
    )


def parse(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def entry_ids(files: dict[str, bytes], locale: str, topic: str) -> list[str]:
    """The entry ids of one feed, asserting RSS, Atom and JSON agree on them and their order."""
    rss = [e.id for e in parse(files[f"feeds/{locale}/{topic}.rss"]).entries]
    atom = [e.id for e in parse(files[f"feeds/{locale}/{topic}.atom"]).entries]
    items = json.loads(files[f"feeds/{locale}/{topic}.json"])["items"]
    assert rss == atom == [item["id"] for item in items]
    return rss


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return load(FIXTURE)


@pytest.fixture(scope="module")
def publications(workspace: Workspace) -> list[Publication]:
    return publish(workspace, datetime(2021, 7, 10, 1, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def files(workspace: Workspace, publications: list[Publication]) -> dict[str, bytes]:
    return build(workspace, publications)


def feed_names(workspace: Workspace) -> list[tuple[str, str]]:
    return [(loc, topic) for loc in LOCALES for topic in (ALL_TOPICS, *workspace.topics)]


def test_every_feed_is_built_and_parses_cleanly(
    workspace: Workspace, files: dict[str, bytes]
) -> None:
    expected = {
        f"feeds/{loc}/{topic}.{fmt}"
        for loc, topic in feed_names(workspace)
        for fmt in ("rss", "atom", "json")
    }
    assert set(files) == expected
    for locale, topic in feed_names(workspace):
        assert parse(files[f"feeds/{locale}/{topic}.rss"]).version == "rss20"
        atom = parse(files[f"feeds/{locale}/{topic}.atom"])
        assert atom.version == "atom10"
        assert atom.feed.language == locale
        document = json.loads(files[f"feeds/{locale}/{topic}.json"])
        assert document["language"] == locale
    # Every current campaign is in the `all` feed of each locale.
    current = [c for c in workspace.campaigns.values() if c.is_current(IN_2021)]
    assert len(parse(files["feeds/vi/all.rss"]).entries) == len(current) >= 4


def test_vietnamese_text_is_intact(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    topic_name = workspace.topics["covid-19-measures"].name("vi")
    for fmt in ("rss", "atom"):
        assert parse(files[f"feeds/vi/all.{fmt}"]).feed.title == TITLE_VI
        topic_feed = parse(files[f"feeds/vi/covid-19-measures.{fmt}"])
        assert topic_feed.feed.title == f"{TITLE_VI} — {topic_name}"
    titles = {p.entry_id("vi"): p.content("vi").title for p in publications}
    for entry in parse(files["feeds/vi/all.atom"]).entries:
        assert entry.title == titles[entry.id]
    for item in json.loads(files["feeds/vi/all.json"])["items"]:
        assert item["title"] == titles[item["id"]]
    # Written as UTF-8, not as character references or \u escapes.
    assert "Khánh Hòa".encode() in files["feeds/vi/all.rss"]
    assert "Khánh Hòa".encode() in files["feeds/vi/all.json"]


def test_entries_are_newest_first_with_stable_ids_in_every_format(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    for locale, topic in feed_names(workspace):
        expected = [
            p.entry_id(locale)
            for p in sorted(publications, key=lambda p: p.published_at, reverse=True)
            if p.campaign.is_current(IN_2021)
            and (topic == ALL_TOPICS or topic in p.campaign.topics)
        ]
        assert entry_ids(files, locale, topic) == expected
    assert entry_ids(files, "vi", "all") != entry_ids(files, "en", "all")


def test_a_new_revision_updates_its_entry_instead_of_adding_one(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    before_ws = load(root)
    before = publish(before_ws, datetime(2021, 7, 10, 1, 0, tzinfo=UTC))
    old_files = build(before_ws, before)

    doc = root / "campaigns" / "support-contacts" / "vi.md"
    text = doc.read_text(encoding="utf-8")
    summary_line = next(line for line in text.splitlines() if line.startswith("summary:"))
    doc.write_text(
        text.replace(summary_line, "summary: Cập nhật danh sách đầu mối hỗ trợ."), encoding="utf-8"
    )
    after_ws = load(root)
    campaign = after_ws.campaigns["support-contacts"]
    assert campaign.revision != before_ws.campaigns["support-contacts"].revision
    republished_at = datetime(2021, 8, 1, 9, 30, tzinfo=UTC)
    revision = Publication.prepare(after_ws, campaign, BASE_URL, republished_at)
    latest = [p for p in before if p.campaign.id != "support-contacts"] + [revision]
    new_files = build(after_ws, latest)

    entry_id = revision.entry_id("vi")
    assert entry_id == next(p for p in before if p.campaign.id == "support-contacts").entry_id("vi")
    old_ids = entry_ids(old_files, "vi", "all")
    new_ids = entry_ids(new_files, "vi", "all")
    assert sorted(new_ids) == sorted(old_ids)
    assert new_ids[0] == entry_id  # the update moves it to the top
    old_entry = next(e for e in parse(old_files["feeds/vi/all.atom"]).entries if e.id == entry_id)
    new_entry = next(e for e in parse(new_files["feeds/vi/all.atom"]).entries if e.id == entry_id)
    assert new_entry.updated != old_entry.updated
    assert datetime.fromisoformat(new_entry.updated) == republished_at
    assert new_entry.summary == "Cập nhật danh sách đầu mối hỗ trợ."
    assert parse(new_files["feeds/vi/all.rss"]).feed.updated_parsed[:6] == (2021, 8, 1, 9, 30, 0)
    item = next(
        i for i in json.loads(new_files["feeds/vi/all.json"])["items"] if i["id"] == entry_id
    )
    assert item["date_modified"] == republished_at.isoformat()
    assert item["_broadcaster"]["revision"] == campaign.revision

    # Handed both the old and the new publication, the feed still has the entry once: the latest.
    both = build(after_ws, [*before, revision])
    assert both == new_files


def test_expired_campaigns_leave_the_feeds(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    expiring = next(p for p in publications if p.campaign.id == EXPIRING)
    assert expiring.campaign.expires is not None
    assert expiring.entry_id("vi") in entry_ids(files, "vi", "all")
    assert expiring.entry_id("en") in entry_ids(files, "en", "covid-19-measures")

    later = build(workspace, publications, now=IN_2026)
    for locale, topic in feed_names(workspace):
        assert expiring.entry_id(locale) not in entry_ids(later, locale, topic)
    # The feed changed when the campaign expired, so its time moves on with it.
    times = feed_times(
        publications,
        withdrawn={},
        now=IN_2026,
        options=feed_options(workspace),
        topics=workspace.topics,
        locales=LOCALES,
    )
    assert times["feeds/vi/one-stop-counters.atom"] == expiring.campaign.expires


WITHDRAWN_AT = datetime(2021, 7, 20, 9, 30, 15, 123456, tzinfo=UTC)


def gone_note(locale: str) -> str:
    return {
        "vi": "Thông báo này đã được thu hồi và không còn áp dụng. "
        "Nội dung không còn được hiển thị.",
        "en": "This notice has been withdrawn and no longer applies. Its text is no longer shown.",
    }[locale]


def test_withdrawn_campaigns_stay_marked_in_the_feeds(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    gone = publications[0]
    files_after = build(workspace, publications, withdrawn={gone.campaign.id: WITHDRAWN_AT})
    for locale, topic in feed_names(workspace):
        # The same entries, in the same order, under the same ids.
        assert entry_ids(files_after, locale, topic) == entry_ids(files, locale, topic)
    withdrawn_at = WITHDRAWN_AT.astimezone(gone.published_at.tzinfo).replace(microsecond=0)
    for locale, marker, link in (
        ("vi", "[Đã thu hồi] ", "Xem thông báo trong mục lưu trữ"),
        ("en", "[Withdrawn] ", "See the notice in the archive"),
    ):
        url = gone.url(locale)
        title = gone.content(locale).title
        for fmt in ("rss", "atom"):
            feed = parse(files_after[f"feeds/{locale}/all.{fmt}"])
            [entry] = [e for e in feed.entries if e.id == gone.entry_id(locale)]
            assert entry.title == marker + title
            assert entry.summary == gone_note(locale)
            assert gone.content(locale).summary not in entry.content[0].value
            assert f'<a href="{url}">{link}</a>' in entry.content[0].value
            if fmt == "atom":  # RSS items carry only pubDate
                assert entry.updated_parsed[:6] == withdrawn_at.utctimetuple()[:6]
            # The feed changed when the campaign was withdrawn.
            assert feed.feed.updated_parsed[:6] >= withdrawn_at.utctimetuple()[:6]
        items = json.loads(files_after[f"feeds/{locale}/all.json"])["items"]
        [item] = [i for i in items if i["id"] == gone.entry_id(locale)]
        assert item["title"] == marker + title
        assert item["date_modified"] == withdrawn_at.isoformat()
        assert item["content_text"].endswith(f"{link}: {url}\n")
        assert item["_broadcaster"]["withdrawn"] == withdrawn_at.isoformat()

    # Every other entry is untouched.
    def others(built: dict[str, bytes]) -> list[Any]:
        items = json.loads(built["feeds/vi/all.json"])["items"]
        return [item for item in items if item["id"] != gone.entry_id("vi")]

    assert others(files_after) == others(files) != []
    # The same state gives the same bytes; a later clock changes nothing.
    again = build(
        workspace,
        publications,
        withdrawn={gone.campaign.id: WITHDRAWN_AT},
        now=IN_2021 + timedelta(days=3),
    )
    assert again == files_after


def test_a_withdrawn_entry_leaves_when_it_would_have_anyway(
    workspace: Workspace, publications: list[Publication]
) -> None:
    expiring = next(p for p in publications if p.campaign.id == EXPIRING)
    withdrawn = {EXPIRING: WITHDRAWN_AT}
    assert expiring.entry_id("vi") in entry_ids(
        build(workspace, publications, withdrawn=withdrawn), "vi", "all"
    )
    later = build(workspace, publications, withdrawn=withdrawn, now=IN_2026)
    for locale, topic in feed_names(workspace):
        assert expiring.entry_id(locale) not in entry_ids(later, locale, topic)
    # Past max_entries it goes as any older entry does.
    oldest = min(publications, key=lambda p: p.published_at)
    options = feed_options(workspace).model_copy(update={"max_entries": len(publications) - 1})
    trimmed = build(
        workspace, publications, withdrawn={oldest.campaign.id: WITHDRAWN_AT}, options=options
    )
    assert oldest.entry_id("vi") not in entry_ids(trimmed, "vi", "all")


def test_the_same_state_gives_byte_identical_files(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    shuffled = list(publications)
    random.Random(7).shuffle(shuffled)
    assert build(workspace, shuffled) == files
    # Neither the clock nor feedgen's own defaults leak in: a later `now`, same files.
    assert build(workspace, publications, now=IN_2021 + timedelta(days=30)) == files
    for data in files.values():
        assert b"python-feedgen" not in data
    newest = max(p.published_at for p in publications)
    assert parse(files["feeds/vi/all.rss"]).feed.updated_parsed[:6] == newest.timetuple()[:6]
    root = etree.fromstring(files["feeds/en/all.atom"])
    assert root.findtext(f"{{{ATOM}}}updated") == newest.isoformat()


def test_json_feed_follows_version_1_1(files: dict[str, bytes]) -> None:
    document = json.loads(files["feeds/vi/online-services.json"])
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["home_page_url"] == f"{BASE_URL}/vi/"
    assert document["feed_url"] == f"{BASE_URL}/feeds/vi/online-services.json"
    assert document["title"].startswith(TITLE_VI)
    assert document["items"]
    for item in document["items"]:
        assert item["id"].startswith("tag:thongtin.example.gov.vn,")
        assert item["url"].startswith(f"{BASE_URL}/vi/")
        assert item["content_html"].startswith("<")
        assert "online-services" in item["tags"]


def test_every_feed_links_to_itself_and_to_the_site(
    workspace: Workspace, files: dict[str, bytes]
) -> None:
    for locale, topic in feed_names(workspace):
        for fmt in ("rss", "atom"):
            feed = parse(files[f"feeds/{locale}/{topic}.{fmt}"]).feed
            links = {link.rel: link.href for link in feed.links}
            assert links["self"] == f"{BASE_URL}/feeds/{locale}/{topic}.{fmt}"
            assert links["alternate"] == f"{BASE_URL}/{locale}/"
        document = json.loads(files[f"feeds/{locale}/{topic}.json"])
        assert document["feed_url"] == f"{BASE_URL}/feeds/{locale}/{topic}.json"


def test_max_entries_keeps_the_newest(
    workspace: Workspace, publications: list[Publication]
) -> None:
    options = feed_options(workspace).model_copy(update={"max_entries": 2})
    files = build(workspace, publications, options=options)
    newest = sorted(publications, key=lambda p: p.published_at, reverse=True)[:2]
    for locale in LOCALES:
        assert entry_ids(files, locale, "all") == [p.entry_id(locale) for p in newest]


def test_empty_feeds_are_valid(workspace: Workspace) -> None:
    files = build(workspace, [])
    assert len(files) == 3 * len(feed_names(workspace))
    for locale, topic in feed_names(workspace):
        assert entry_ids(files, locale, topic) == []
        assert parse(files[f"feeds/{locale}/{topic}.atom"]).feed.title
    assert build(workspace, []) == files
    atom = etree.fromstring(files["feeds/vi/all.atom"])
    assert atom.findtext(f"{{{ATOM}}}updated") == EPOCH.isoformat()


def test_feed_times_are_the_feeds_own_updated(
    workspace: Workspace, publications: list[Publication], files: dict[str, bytes]
) -> None:
    times = feed_times(
        publications,
        withdrawn={},
        now=IN_2021,
        options=feed_options(workspace),
        topics=workspace.topics,
        locales=LOCALES,
    )
    assert set(times) == set(files)
    for path, when in times.items():
        if path.endswith(".atom"):
            updated = etree.fromstring(files[path]).findtext(f"{{{ATOM}}}updated")
            assert updated == when.isoformat()


HOSTILE_SUMMARY = "Xem <script>alert(1)</script> & <img src=x onerror=alert(2)> ngay."


def test_an_rss_description_is_the_summary_as_text_never_markup(tmp_path: Path) -> None:
    """Readers take an RSS <description> as HTML: a summary's tags must reach them as text."""
    root = copy_workspace(tmp_path / "ws")
    doc = root / "campaigns" / "support-contacts" / "vi.md"
    text = doc.read_text(encoding="utf-8")
    summary_line = next(line for line in text.splitlines() if line.startswith("summary:"))
    doc.write_text(text.replace(summary_line, f"summary: '{HOSTILE_SUMMARY}'"), encoding="utf-8")
    workspace = load(root)
    files = build(workspace, publish(workspace, datetime(2021, 7, 10, 1, 0, tzinfo=UTC)))
    channel = etree.fromstring(files["feeds/vi/all.rss"]).find("channel")
    assert channel is not None
    descriptions = [
        item.findtext("description") or ""
        for item in channel.iter("item")
        if "support-contacts" in (item.findtext("guid") or "")
    ]
    assert len(descriptions) == 1
    # What a reader does with it: parse the description as HTML.
    html = lxml.html.fragment_fromstring(descriptions[0], create_parent="div")
    assert [element.tag for element in html.iter()] == ["div"]
    assert html.text_content() == HOSTILE_SUMMARY
    # Atom's summary is typed text and JSON Feed's summary is plain text: both say it as is.
    atom = etree.fromstring(files["feeds/vi/all.atom"])
    summaries = [
        e.findtext(f"{{{ATOM}}}summary")
        for e in atom.iter(f"{{{ATOM}}}entry")
        if "support-contacts" in (e.findtext(f"{{{ATOM}}}id") or "")
    ]
    assert summaries == [HOSTILE_SUMMARY]
    items = json.loads(files["feeds/vi/all.json"])["items"]
    assert [i["summary"] for i in items if "support-contacts" in i["id"]] == [HOSTILE_SUMMARY]


def test_atom_content_is_typed_html(files: dict[str, bytes]) -> None:
    entry = parse(files["feeds/en/all.atom"]).entries[0]
    assert entry.content[0].type == "text/html"


def whole_document(feed: Feed, fmt: str, options: FeedOptions, workspace: Workspace) -> bytes:
    """The feed as feedgen writes it when given every entry at once (the reference)."""
    title = localized(options.title, feed.locale)
    if feed.topic != ALL_TOPICS:
        title = f"{title} — {workspace.topics[feed.topic].name(feed.locale)}"
    fg = FeedGenerator()
    fg.id(f"{BASE_URL}/{feed.path('atom')}")
    fg.title(title)
    fg.description(localized(options.description, feed.locale) or title)
    fg.author({"name": localized(options.title, feed.locale)})
    fg.language(feed.locale)
    fg.updated(feed.updated)
    fg.generator("Broadcaster")
    entries = [
        add_entry(fg, publication, feed.locale, feed.withdrawn_at(publication))
        for publication in feed.entries
    ]
    fg.link(href=f"{BASE_URL}/{feed.path(fmt)}", rel="self")
    fg.link(href=f"{BASE_URL}/websub", rel="hub")
    fg.link(href=f"{BASE_URL}/{feed.locale}/", rel="alternate")
    data: bytes = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    if fmt == "atom":
        text = data.decode()
        for entry in entries:
            text = repair_atom_links(text, entry)
        data = text.encode()
    if fmt == "rss":  # feedgen writes no hub link into RSS: the feed adds it as an atom:link
        self_link = f'<atom:link href="{BASE_URL}/{feed.path(fmt)}" rel="self"/>\n'.encode()
        hub_link = f'    <atom:link href="{BASE_URL}/websub" rel="hub"/>\n'.encode()
        data = data.replace(self_link, self_link + hub_link)
    return data


@pytest.mark.parametrize("withdraw", [False, True], ids=["current", "one-withdrawn"])
def test_feeds_put_together_from_entries_are_what_feedgen_writes_whole(
    workspace: Workspace, publications: list[Publication], withdraw: bool
) -> None:
    options = feed_options(workspace)
    withdrawn = {publications[1].campaign.id: WITHDRAWN_AT} if withdraw else {}
    files = build(workspace, publications, withdrawn=withdrawn)
    feeds = list(
        select_feeds(
            publications,
            withdrawn=withdrawn,
            now=IN_2021,
            options=options,
            topics=workspace.topics,
            locales=LOCALES,
        )
    )
    assert any(len(feed.entries) > 1 for feed in feeds)
    assert any(feed.withdrawn for feed in feeds) == withdraw
    for feed in feeds:
        for fmt in ("rss", "atom"):
            assert files[feed.path(fmt)] == whole_document(feed, fmt, options, workspace)
        document = json.loads(files[feed.path("json")])
        assert (
            files[feed.path("json")]
            == (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
        )


def test_a_cache_kept_between_builds_gives_the_same_files(
    workspace: Workspace, publications: list[Publication]
) -> None:
    """Entries serialised in one build are reused by the next: the bytes never differ from a
    build without the cache, including after a new revision, a withdrawal and an expiry."""
    cache = FeedCache()
    options = feed_options(workspace)

    def cached(
        pubs: Sequence[Publication], now: datetime, withdrawn: Mapping[str, datetime] | None = None
    ) -> dict[str, bytes]:
        return build_feeds(
            pubs,
            withdrawn=withdrawn or {},
            now=now,
            options=options,
            base_url=BASE_URL,
            topics=workspace.topics,
            locales=LOCALES,
            cache=cache,
        )

    assert cached(publications, IN_2021) == build(workspace, publications)
    republished = [*publications[1:], replace(publications[0], published_at=IN_2021)]
    assert cached(republished, IN_2021) == build(workspace, republished)
    gone = {republished[0].campaign.id: WITHDRAWN_AT}
    assert cached(republished, IN_2021, gone) == build(workspace, republished, withdrawn=gone)
    assert cached(republished, IN_2021) == build(workspace, republished)  # published again
    assert cached(republished, IN_2026) == build(workspace, republished, now=IN_2026)
    # What the last build did not use is forgotten.
    assert len(cache.entries) <= len(publications) * len(LOCALES)
