"""Finding the feeds: every page links its language's feeds, the feeds page lists every feed
with addresses to copy, /feeds.opml lists them all, and attachments travel as enclosures."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import feedparser  # type: ignore[import-untyped]
import lxml.html
import pytest
from lxml import etree

from broadcaster.channels.feed import FeedOptions
from broadcaster.channels.website import WebsiteOptions
from broadcaster.settings import Settings
from broadcaster.site import build_site
from broadcaster.site.build import SiteFeeds
from broadcaster.site.directory import CAP_INDEX, DEFAULT_LISTED
from broadcaster.site.feeds import build_feeds
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import text
from broadcaster.workspace.attachments import campaign_files
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Workspace
from tests.conftest import FIXTURE
from tests.html import find_all

BASE = "https://thongtin.example.gov.vn"
PUBLISHED_AT = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
NOW = datetime(2021, 8, 1, tzinfo=UTC)
WITH_FILES = "online-submission"  # its files/ holds the official document


@cache
def workspace() -> Workspace:
    found, diagnostics = load_workspace(
        FIXTURE, Settings.from_environ(FIXTURE, environ={}), now=datetime(2021, 7, 1, tzinfo=UTC)
    )
    assert found is not None, diagnostics
    return found


@cache
def publications() -> tuple[Publication, ...]:
    ws = workspace()
    return tuple(Publication.prepare(ws, c, BASE, PUBLISHED_AT) for c in ws.campaigns.values())


def site(listed: tuple[object, ...] = DEFAULT_LISTED) -> dict[str, bytes]:
    ws = workspace()
    options = ws.channels["website"].options
    assert isinstance(options, WebsiteOptions)
    return build_site(
        publications(),
        withdrawn=(),
        now=NOW,
        options=options,
        templates=Templates(ws.root / "templates"),
        base_url=BASE,
        feeds=SiteFeeds(ws.topics, listed, campaign_files),  # type: ignore[arg-type]
    )


def feeds() -> dict[str, bytes]:
    ws = workspace()
    options = ws.channels["feeds"].options
    assert isinstance(options, FeedOptions)
    return build_feeds(
        publications(),
        withdrawn={},
        now=NOW,
        options=options,
        base_url=BASE,
        topics=ws.topics,
        locales=("vi", "en"),
        attachments=campaign_files,
    )


def test_every_page_links_its_languages_feeds_in_head_and_in_sight() -> None:
    files = site()
    pages = [p for p in files if p.endswith(".html") and not p.startswith("embed/")]
    assert len(pages) > 8
    for path in pages:
        page = lxml.html.fromstring(files[path])
        locale = page.get("lang") or ""
        links = find_all(page, "//head/link[@rel='alternate'][@type]")
        assert {(link.get("type"), link.get("href")) for link in links} == {
            ("application/rss+xml", f"{BASE}/feeds/{locale}/all.rss"),
            ("application/atom+xml", f"{BASE}/feeds/{locale}/all.atom"),
            ("application/feed+json", f"{BASE}/feeds/{locale}/all.json"),
        }, path
        if not path.endswith("feeds/index.html"):
            visible = find_all(page, "//footer//a[@class='feeds']")
            assert [a.text_content() for a in visible] == [text("feeds_link", locale)], path


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_feeds_page_lists_every_feed_with_addresses_to_copy(locale: str) -> None:
    page = lxml.html.fromstring(site()[f"{locale}/feeds/index.html"])
    assert find_all(page, "//h1")[0].text_content() == text("site_feeds", locale)
    headings = [h.text_content() for h in find_all(page, "//main//h2")]
    topics = workspace().topics
    assert headings[0] == text("feeds_all_title", locale)
    for topic in topics.values():
        assert text("feeds_topic_title", locale).format(topic=topic.name(locale)) in headings
    assert text("feeds_radio_title", locale) in headings
    assert text("feeds_cap_title", locale) not in headings  # not published here
    copyable = {i.get("value") for i in find_all(page, "//input[@readonly]")}
    for topic_id in ["all", *topics]:
        for fmt in ("rss", "atom", "json"):
            assert f"{BASE}/feeds/{locale}/{topic_id}.{fmt}" in copyable
    assert f"{BASE}/feeds/{locale}/radio.rss" in copyable
    assert f"{BASE}/websub" in copyable
    for field in find_all(page, "//input[@readonly]"):  # every field has its label
        assert find_all(page, f"//label[@for='{field.get('id')}']")
    main = find_all(page, "//main")[0].text_content()
    assert text("feeds_changes_publication", locale) in main
    assert f"{BASE}/feeds.opml" in main


def test_a_feed_published_elsewhere_is_listed_once_added() -> None:
    files = site((*DEFAULT_LISTED, CAP_INDEX))
    for locale in ("vi", "en"):
        page = lxml.html.fromstring(files[f"{locale}/feeds/index.html"])
        copyable = {i.get("value") for i in find_all(page, "//input[@readonly]")}
        assert f"{BASE}/cap/index.atom" in copyable
    urls: Any = etree.fromstring(files["feeds.opml"]).xpath("//outline/@xmlUrl")
    assert urls.count(f"{BASE}/cap/index.atom") == 1


def test_opml_lists_every_feed_of_every_language() -> None:
    root = etree.fromstring(site()["feeds.opml"])
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.findtext("head/title")
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == ["Tiếng Việt", "English"]
    urls: Any = root.xpath("//outline[@type='rss']/@xmlUrl")
    for locale in ("vi", "en"):
        for topic in ["all", *workspace().topics]:
            assert f"{BASE}/feeds/{locale}/{topic}.rss" in urls
            assert f"{BASE}/feeds/{locale}/{topic}.atom" in urls
        assert f"{BASE}/feeds/{locale}/radio.rss" in urls
    for outline in root.iter("outline"):
        if outline.get("type") != "rss":
            continue
        assert outline.get("text")
        assert outline.get("htmlUrl")
        assert outline.get("language")


def test_campaign_page_links_its_attachments() -> None:
    page = lxml.html.fromstring(site()[f"vi/{WITH_FILES}/index.html"])
    links = find_all(page, "//section[@class='attachments']//a")
    publication = next(p for p in publications() if p.campaign.id == WITH_FILES)
    expected = [file.url(publication) for file in campaign_files(publication)]
    assert expected
    assert [a.get("href") for a in links] == expected


def test_feed_entries_carry_the_attachments_as_enclosures() -> None:
    files = feeds()
    publication = next(p for p in publications() if p.campaign.id == WITH_FILES)
    attached = campaign_files(publication)
    pdf = next(a for a in attached if a.media_type == "application/pdf")
    rss = feedparser.parse(files["feeds/vi/all.rss"])
    entry = next(e for e in rss.entries if WITH_FILES in e.link)
    assert [(e.href, e.type, e.length) for e in entry.enclosures] == [
        (pdf.url(publication), "application/pdf", str(len(pdf.data)))
    ]
    atom = etree.fromstring(files["feeds/vi/all.atom"])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    hrefs: Any = atom.xpath(
        f"//a:entry[a:link[@rel='alternate'][contains(@href, '{WITH_FILES}')]]"
        "/a:link[@rel='enclosure']/@href",
        namespaces=ns,
    )
    assert sorted(hrefs) == sorted(a.url(publication) for a in attached)
    assert feedparser.parse(files["feeds/vi/all.atom"]).bozo == 0


def test_every_feed_names_its_hub_and_itself() -> None:
    files = feeds()
    for path in ("feeds/vi/all.rss", "feeds/en/all.atom"):
        parsed = feedparser.parse(files[path])
        rels = {(link.rel, link.href) for link in parsed.feed.links}
        assert ("hub", f"{BASE}/websub") in rels, path
        assert ("self", f"{BASE}/{path}") in rels, path
    assert b'"hubs": [' in files["feeds/vi/all.json"]
