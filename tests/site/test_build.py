"""The static website: what a reader sees on each page, and the atomic publish of the tree."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from lxml import etree
from lxml.html import HtmlElement

from broadcaster.channels.website import WebsiteOptions
from broadcaster.settings import Settings
from broadcaster.site import (
    PublicFolderError,
    build_site,
    next_change,
    write_site,
    write_subtree,
)
from broadcaster.text.render import Publication, Templates
from broadcaster.text.strings import text
from broadcaster.workspace.load import load_workspace
from broadcaster.workspace.models import Priority, Workspace
from tests.conftest import FIXTURE, copy_workspace
from tests.html import find_all

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BASE = "https://thongtin.example.gov.vn"
PUBLISHED_AT = datetime(2021, 7, 10, 8, 0, tzinfo=TZ)
IN_2021 = datetime(2021, 8, 1, 9, 0, tzinfo=TZ)
IN_2026 = datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
COVID = "one-stop-covid-measures"  # urgent, expires 2021-12-31
CONTACTS = "support-contacts"
LOCALES = ("vi", "en")
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML = "http://www.w3.org/1999/xhtml"

Files = dict[str, bytes]

# --- helpers ---------------------------------------------------------------------------------


def load(root: Path) -> Workspace:
    settings = Settings.from_environ(root, environ={})
    workspace, diag = load_workspace(root, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert workspace is not None, [str(problem) for problem in diag.errors]
    return workspace


@cache
def repo_workspace() -> Workspace:
    return load(FIXTURE)


def publications(workspace: Workspace) -> list[Publication]:
    return [
        Publication.prepare(workspace, campaign, BASE, PUBLISHED_AT)
        for campaign in workspace.campaigns.values()
    ]


@cache
def repo_publications() -> tuple[Publication, ...]:
    return tuple(publications(repo_workspace()))


def options(workspace: Workspace) -> WebsiteOptions:
    found = workspace.channels["website"].options
    assert isinstance(found, WebsiteOptions)
    return found


def build(
    now: datetime,
    *,
    withdrawn: Collection[str] = (),
    workspace: Workspace | None = None,
    pubs: list[Publication] | None = None,
) -> Files:
    workspace = workspace or repo_workspace()
    if pubs is None:
        pubs = (
            list(repo_publications()) if workspace is repo_workspace() else publications(workspace)
        )
    return build_site(
        pubs,
        withdrawn=withdrawn,
        now=now,
        options=options(workspace),
        templates=Templates(workspace.root / "templates"),
        base_url=BASE,
    )


def parse(data: bytes) -> HtmlElement:
    document = lxml.html.fromstring(data)
    assert isinstance(document, HtmlElement)
    return document


def texts(node: HtmlElement, path: str) -> list[str]:
    return [" ".join(element.text_content().split()) for element in find_all(node, path)]


def attr(node: HtmlElement, path: str, name: str) -> list[str]:
    return [element.get(name, "") for element in find_all(node, path)]


def html_pages(files: Files) -> dict[str, HtmlElement]:
    return {path: parse(data) for path, data in files.items() if path.endswith(".html")}


def title(campaign_id: str, locale: str) -> str:
    return repo_workspace().campaigns[campaign_id].doc(locale).title


def current_ids(now: datetime) -> list[str]:
    return [c.id for c in repo_workspace().campaigns.values() if c.is_current(now)]


def resolve(page: str, href: str) -> str:
    """The site-relative file a relative link on `page` opens."""
    path = urlsplit(urljoin(f"https://site.test/{page}", href)).path.lstrip("/")
    return path + "index.html" if path.endswith("/") or not path else path


# --- home pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_home_lists_current_guidance_by_topic_with_urgent_first(locale: str) -> None:
    files = build(IN_2021)
    home = parse(files[f"{locale}/index.html"])
    assert home.get("lang") == locale
    workspace = repo_workspace()
    current = current_ids(IN_2021)
    assert COVID in current
    first_topics = {workspace.campaigns[cid].topics[0] for cid in current}
    assert set(texts(home, "//main//section/h2")) == {
        workspace.topics[topic].name(locale) for topic in first_topics
    }
    items = find_all(home, "//main//li[contains(@class, 'item')]")
    listed = [texts(item, ".//h3/a")[0] for item in items]
    assert sorted(listed) == sorted(title(cid, locale) for cid in current)
    urgent = [bool(find_all(item, ".//h3/span[@class='badge']")) for item in items]
    assert urgent == sorted(urgent, reverse=True), "urgent guidance comes first"
    expected_urgent = {
        title(cid, locale)
        for cid in current
        if workspace.campaigns[cid].priority == Priority.URGENT
    }
    assert {name for name, flag in zip(listed, urgent, strict=True) if flag} == expected_urgent
    assert texts(items[0], ".//span[@class='badge']") == [text("urgent", locale)]
    for link in find_all(home, "//main//h3/a"):
        assert resolve(f"{locale}/index.html", link.get("href", "")) in files


def test_urgent_guidance_leads_its_topic_group() -> None:
    pubs = list(repo_publications())
    points = next(p for p in pubs if p.campaign.id == "commune-support-points")
    # A newer, normal campaign under the same first topic as the urgent online-submission.
    newer = replace(
        points,
        campaign=replace(
            points.campaign,
            topics=("online-services",),
            valid_from=datetime(2021, 7, 20, tzinfo=TZ),
        ),
    )
    files = build(IN_2021, pubs=[newer if p is points else p for p in pubs])
    home = parse(files["en/index.html"])
    group = find_all(home, "//section[h2='Online public services']")[0]
    assert texts(group, ".//h3/a") == [
        title("online-submission", "en"),
        title("commune-support-points", "en"),
    ]
    assert texts(group, ".//h3/span[@class='badge']") == ["Urgent"]


@pytest.mark.parametrize("locale", LOCALES)
def test_home_navigation_and_language_switcher(locale: str) -> None:
    files = build(IN_2021)
    home = parse(files[f"{locale}/index.html"])
    nav = find_all(home, "//header//nav[contains(@class, 'site')]//a")
    targets = [resolve(f"{locale}/index.html", a.get("href", "")) for a in nav]
    assert targets == [
        f"{locale}/index.html",
        f"{locale}/contacts/index.html",
        f"{locale}/archive/index.html",
    ]
    assert texts(home, "//nav[contains(@class, 'site')]//a") == [
        text("site_home", locale),
        text("site_contacts", locale),
        text("site_archive", locale),
    ]
    switcher = find_all(home, "//nav[contains(@class, 'languages')]//a")
    assert [a.get("hreflang") for a in switcher] == list(LOCALES)
    assert [a.get("lang") for a in switcher] == list(LOCALES)
    assert [a.text_content() for a in switcher] == ["Tiếng Việt", "English"]
    current = [a.get("hreflang") for a in switcher if a.get("aria-current") == "page"]
    assert current == [locale]
    alternates = dict(
        zip(
            attr(home, "//head/link[@rel='alternate'][@hreflang]", "hreflang"),
            attr(home, "//head/link[@rel='alternate'][@hreflang]", "href"),
            strict=True,
        )
    )
    assert alternates == {"vi": f"{BASE}/vi/", "en": f"{BASE}/en/", "x-default": f"{BASE}/vi/"}


def test_root_page_is_the_vietnamese_home_with_alternates() -> None:
    files = build(IN_2021)
    root, vi_home = parse(files["index.html"]), parse(files["vi/index.html"])
    assert root.get("lang") == "vi"
    assert texts(root, "//main//h3/a") == texts(vi_home, "//main//h3/a")
    assert attr(root, "//link[@rel='canonical']", "href") == [f"{BASE}/vi/"]
    assert attr(root, "//link[@rel='alternate'][@hreflang]", "hreflang") == [
        "vi",
        "en",
        "x-default",
    ]
    assert find_all(root, "//meta[@http-equiv]") == []
    for link in find_all(root, "//a[@href]"):
        href = link.get("href", "")
        if not href.startswith("#"):
            assert resolve("index.html", href) in files, href


def test_campaign_missing_a_locale_is_listed_in_its_default_language(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    (root / "campaigns" / CONTACTS / "en.md").unlink()
    workspace = load(root)
    files = build(IN_2021, workspace=workspace)
    assert f"vi/{CONTACTS}/index.html" in files
    assert f"en/{CONTACTS}/index.html" not in files
    home = parse(files["en/index.html"])
    link = next(a for a in find_all(home, "//main//h3/a") if CONTACTS in a.get("href", ""))
    assert resolve("en/index.html", link.get("href", "")) == f"vi/{CONTACTS}/index.html"
    assert link.get("lang") == "vi"
    assert link.text_content() == workspace.campaigns[CONTACTS].doc("vi").title
    page = parse(files[f"vi/{CONTACTS}/index.html"])
    assert attr(page, "//link[@rel='alternate'][@hreflang]", "hreflang") == ["vi", "x-default"]
    assert len(find_all(page, "//nav[contains(@class, 'languages')]//a")) == 1


# --- campaign pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_campaign_page_has_alternates_switcher_and_navigation(locale: str) -> None:
    files = build(IN_2021)
    publication = next(p for p in repo_publications() if p.campaign.id == "online-submission")
    path = urlsplit(publication.url(locale)).path.lstrip("/") + "index.html"
    page = parse(files[path])
    assert page.get("lang") == locale
    assert texts(page, "//h1") == [title("online-submission", locale)]
    assert attr(page, "//link[@rel='canonical']", "href") == [publication.url(locale)]
    alternates = dict(
        zip(
            attr(page, "//link[@rel='alternate'][@hreflang]", "hreflang"),
            attr(page, "//link[@rel='alternate'][@hreflang]", "href"),
            strict=True,
        )
    )
    assert alternates == {**dict(publication.alternates()), "x-default": publication.url("vi")}
    switcher = find_all(page, "//nav[contains(@class, 'languages')]//a")
    assert [resolve(path, a.get("href", "")) for a in switcher] == [
        f"{loc}/online-submission/index.html" for loc in LOCALES
    ]
    nav = [
        resolve(path, a.get("href", ""))
        for a in find_all(page, "//nav[contains(@class, 'site')]//a")
    ]
    assert nav == [
        f"{locale}/index.html",
        f"{locale}/contacts/index.html",
        f"{locale}/archive/index.html",
    ]
    assert texts(page, "//article//span[@class='badge']") == [text("urgent", locale)]


def test_every_page_is_accessible_in_structure() -> None:
    files = build(IN_2021)
    for path, page in html_pages(files).items():
        assert page.get("lang") in LOCALES, path
        assert len(find_all(page, "//h1")) == 1, path
        assert len(find_all(page, "//main")) == 1, path
        assert find_all(page, "//head/meta[@name='viewport']"), path
        if path.startswith("embed/"):
            continue
        for landmark in ("header", "nav", "footer"):
            assert find_all(page, f"//{landmark}"), (path, landmark)
        skip = find_all(page, "//body/a[1]")[0]
        assert skip.get("href") == "#content", path
        assert find_all(page, "//main[@id='content']"), path
        for nav in find_all(page, "//nav"):
            assert nav.get("aria-label"), path


def test_relative_links_open_pages_of_the_site() -> None:
    files = build(IN_2026)
    for path, page in html_pages(files).items():
        for href in attr(page, "//a[@href]", "href"):
            if href.startswith(f"{BASE}/feeds/"):
                continue  # the feeds are built by build_feeds (tests/site/test_feeds.py)
            if href.startswith(BASE):
                assert resolve("index.html", href.removeprefix(BASE + "/")) in files, (path, href)
            elif not href.startswith(("#", "tel:", "mailto:", "http:", "https:")):
                assert resolve(path, href) in files, (path, href)


def test_pages_use_no_external_assets_or_scripts() -> None:
    files = build(IN_2021)
    for path, page in html_pages(files).items():
        assert find_all(page, "//script") == [], path
        assert find_all(page, "//link[@rel='stylesheet']") == [], path
        assert find_all(page, "//iframe | //object | //embed") == [], path
        for source in attr(page, "//*[@src]", "src"):
            assert not re.match(r"(?i)(https?:)?//", source), (path, source)
        styles = " ".join(style.text or "" for style in find_all(page, "//style"))
        assert "@import" not in styles, path
        assert "url(" not in styles, path
        assert find_all(page, "//meta[@http-equiv='refresh']") == [], path


# --- contacts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_contacts_page_lists_sample_contacts_with_phone_and_email_links(locale: str) -> None:
    files = build(IN_2021)
    page = parse(files[f"{locale}/contacts/index.html"])
    assert texts(page, "//h1") == [text("site_contacts", locale)]
    campaign = repo_workspace().campaigns[CONTACTS]
    cards = {texts(card, "./h3")[0]: card for card in find_all(page, "//li[@class='card']")}
    for contact in campaign.data["contacts"]:
        name = contact["en"]["name"] if locale == "en" else contact["name"]
        card = cards[name]
        digits = contact["phone"].replace(" ", "")
        assert attr(card, ".//a[starts-with(@href, 'tel:')]", "href") == [f"tel:{digits}"]
        assert texts(card, ".//a[starts-with(@href, 'tel:')]") == [contact["phone"]]
        assert attr(card, ".//a[starts-with(@href, 'mailto:')]", "href") == [
            f"mailto:{contact['email']}"
        ]
        hours = contact["en"]["hours"] if locale == "en" else contact["hours"]
        assert hours in card.text_content()
    for point in repo_workspace().campaigns["commune-support-points"].data["points"]:
        name = point["en"]["name"] if locale == "en" else point["name"]
        assert name in cards
        assert f"tel:{point['phone'].replace(' ', '')}" in attr(cards[name], ".//a", "href")
    marker = "(ví dụ)" if locale == "vi" else "(example)"
    assert all(marker in card.text_content() for card in cards.values())
    sections = texts(page, "//section/h2")
    assert title(CONTACTS, locale) in sections


def test_contacts_of_campaigns_no_longer_current_are_not_listed() -> None:
    files = build(IN_2021, withdrawn={CONTACTS})
    page = parse(files["vi/contacts/index.html"])
    names = texts(page, "//li[@class='card']/h3")
    assert names, "the support points are still listed"
    assert not any(name.startswith("Đầu mối mẫu") for name in names)


# --- archive ----------------------------------------------------------------------------------


def test_expired_campaign_leaves_home_for_the_archive() -> None:
    expired = build(IN_2026)
    covid_vi, covid_en = title(COVID, "vi"), title(COVID, "en")
    for locale, name in (("vi", covid_vi), ("en", covid_en)):
        assert name not in texts(parse(expired[f"{locale}/index.html"]), "//main//a")
        assert name not in texts(parse(expired[f"embed/{locale}.html"]), "//a")
        archive = parse(expired[f"{locale}/archive/index.html"])
        assert texts(archive, "//main//li/h2/a") == [name]
        assert text("site_no_longer_in_force", locale) in archive.text_content()
        page = parse(expired[f"{locale}/{COVID}/index.html"])
        notice = texts(page, "//main//*[@class='notice']")
        assert len(notice) == 1
        assert notice[0].startswith(text("site_no_longer_in_force", locale))
        assert find_all(page, "//*[@class='notice']//time[@datetime='2021-12-31T23:59:59+07:00']")
        assert find_all(page, "//article//span[@class='badge']") == []
    assert (
        "Hết hiệu lực từ 31 tháng 12, 2021"
        in texts(parse(expired[f"vi/{COVID}/index.html"]), "//main//*[@class='notice']")[0]
    )

    current = build(IN_2021)
    assert covid_vi in texts(parse(current["vi/index.html"]), "//main//h3/a")
    archive = parse(current["vi/archive/index.html"])
    assert texts(archive, "//main//li/h2/a") == []
    assert text("site_archive_empty", "vi") in archive.text_content()


def test_withdrawn_campaign_goes_to_the_archive_without_its_instructions() -> None:
    files = build(IN_2021, withdrawn={"online-submission"})
    name = title("online-submission", "vi")
    assert name not in texts(parse(files["vi/index.html"]), "//main//a")
    archive = parse(files["vi/archive/index.html"])
    assert texts(archive, "//main//li/h2/a") == [name]
    assert text("site_withdrawn", "vi") in archive.text_content()
    page = parse(files["vi/online-submission/index.html"])
    assert texts(page, "//h1") == [name]
    assert texts(page, "//*[@class='notice']") == [text("site_withdrawn_notice", "vi")]
    assert find_all(page, "//article//h2") == [], "the withdrawn instructions are not shown"


def test_archive_lists_newest_first() -> None:
    pubs = list(repo_publications())
    older = next(p for p in pubs if p.campaign.id == CONTACTS)
    moved = replace(
        older,
        campaign=replace(
            older.campaign,
            valid_from=datetime(2021, 7, 1, tzinfo=TZ),
            expires=datetime(2021, 7, 31, tzinfo=TZ),
        ),
    )
    files = build(IN_2026, pubs=[moved if p is older else p for p in pubs])
    archive = parse(files["en/archive/index.html"])
    assert texts(archive, "//main//li/h2/a") == [title(COVID, "en"), title(CONTACTS, "en")]


def test_campaign_before_its_start_is_not_published() -> None:
    files = build(datetime(2021, 7, 1, tzinfo=TZ))
    assert sorted(files) == [
        "embed/vi.html",
        "feeds.opml",
        "index.html",
        "sitemap.xml",
        "vi/archive/index.html",
        "vi/contacts/index.html",
        "vi/feeds/index.html",
        "vi/index.html",
    ]
    assert text("site_no_current", "vi") in parse(files["vi/index.html"]).text_content()


# --- sitemap, embed, determinism --------------------------------------------------------------


def test_sitemap_lists_every_page_with_its_alternates() -> None:
    files = build(IN_2026)
    sitemap = etree.fromstring(files["sitemap.xml"])
    assert sitemap.tag == f"{{{SITEMAP}}}urlset"
    urls = sitemap.findall(f"{{{SITEMAP}}}url")
    locs = [url.findtext(f"{{{SITEMAP}}}loc") or "" for url in urls]
    pages = sorted(
        f"{BASE}/{path.removesuffix('index.html')}"
        for path in files
        if path.endswith("/index.html")
    )
    assert sorted(locs) == pages
    for url in urls:
        loc = url.findtext(f"{{{SITEMAP}}}loc") or ""
        lastmod = url.findtext(f"{{{SITEMAP}}}lastmod") or ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", lastmod), lastmod
        links = url.findall(f"{{{XHTML}}}link")
        hreflangs = {link.get("hreflang"): link.get("href") for link in links}
        assert loc in hreflangs.values()
        assert "x-default" in hreflangs
        assert {"vi", "en"} <= set(hreflangs)
        for href in hreflangs.values():
            assert href in locs


def test_sitemap_lastmod_comes_from_publication_times() -> None:
    files = build(IN_2021)
    sitemap = etree.fromstring(files["sitemap.xml"])
    lastmods = {u.findtext(f"{{{SITEMAP}}}lastmod") for u in sitemap.findall(f"{{{SITEMAP}}}url")}
    assert lastmods == {"2021-07-10T01:00:00+00:00"}
    expired = etree.fromstring(build(IN_2026)["sitemap.xml"])
    covid = next(
        u
        for u in expired.findall(f"{{{SITEMAP}}}url")
        if u.findtext(f"{{{SITEMAP}}}loc") == f"{BASE}/vi/{COVID}/"
    )
    assert covid.findtext(f"{{{SITEMAP}}}lastmod") == "2021-12-31T16:59:59+00:00"


@pytest.mark.parametrize("locale", LOCALES)
def test_embed_widget_lists_current_guidance_without_site_chrome(locale: str) -> None:
    files = build(IN_2021)
    embed = parse(files[f"embed/{locale}.html"])
    assert embed.get("lang") == locale
    for chrome in ("header", "nav", "footer"):
        assert find_all(embed, f"//{chrome}") == []
    links = find_all(embed, "//li/a")
    assert sorted(a.text_content() for a in links) == sorted(
        title(cid, locale) for cid in current_ids(IN_2021)
    )
    assert all(a.get("target") == "_top" for a in find_all(embed, "//a"))
    assert all(a.get("href", "").startswith(f"{BASE}/{locale}/") for a in links)
    badges = [bool(find_all(li, "./span[@class='badge']")) for li in find_all(embed, "//li")]
    assert badges == sorted(badges, reverse=True)
    assert len(files[f"embed/{locale}.html"]) < 4096


def test_same_inputs_give_byte_identical_sites() -> None:
    first = build(IN_2021)
    shuffled = list(repo_publications())
    random.Random(7).shuffle(shuffled)
    assert build(IN_2021, pubs=shuffled) == first
    # `now` only decides what is current: it is never printed.
    assert build(IN_2021 + timedelta(days=30)) == first
    assert build(IN_2026) != first


def test_latest_publication_of_a_campaign_wins() -> None:
    pubs = list(repo_publications())
    old = next(p for p in pubs if p.campaign.id == COVID)
    newer = replace(old, published_at=old.published_at + timedelta(days=3))
    files = build(IN_2021, pubs=[*pubs, newer])
    footer = parse(files[f"vi/{COVID}/index.html"]).xpath("//footer//time/@datetime")
    assert footer == [newer.published_at.isoformat()]


def test_workspace_override_of_the_home_template_is_used(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    override = root / "templates" / "website" / "home.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '<!DOCTYPE html>\n<html lang="{{ locale }}"><head><title>{{ site_title }}</title></head>'
        '<body><main><h1 id="marker">OVERRIDE {{ locale }}</h1>'
        "{% for group in groups %}<p>{{ group.name }}</p>{% endfor %}</main></body></html>\n",
        encoding="utf-8",
    )
    files = build(IN_2021, workspace=load(root))
    for path, locale in (("index.html", "vi"), ("vi/index.html", "vi"), ("en/index.html", "en")):
        assert texts(parse(files[path]), "//h1[@id='marker']") == [f"OVERRIDE {locale}"]
    assert find_all(parse(files["vi/contacts/index.html"]), "//h1[@id='marker']") == []


# --- next change ------------------------------------------------------------------------------


def test_next_change_is_the_next_start_or_expiry() -> None:
    pubs = list(repo_publications())
    covid = repo_workspace().campaigns[COVID]
    assert covid.expires is not None
    assert next_change(pubs, (), datetime(2021, 7, 1, tzinfo=TZ)) == covid.valid_from
    assert next_change(pubs, (), IN_2021) == covid.expires
    assert next_change(pubs, (), IN_2026) is None
    assert next_change(pubs, {c.campaign.id for c in pubs}, IN_2021) is None
    # Rebuilding at that moment moves the campaign to the archive.
    at_expiry = build(covid.expires)
    assert title(COVID, "vi") not in texts(parse(at_expiry["vi/index.html"]), "//main//a")
    assert title(COVID, "vi") in texts(parse(at_expiry["vi/archive/index.html"]), "//main//a")


def test_next_change_skips_withdrawn_campaigns() -> None:
    pubs = list(repo_publications())
    later = replace(
        pubs[0],
        campaign=replace(pubs[0].campaign, id="later", expires=datetime(2030, 1, 1, tzinfo=TZ)),
    )
    assert next_change([*pubs, later], (), IN_2026) == datetime(2030, 1, 1, tzinfo=TZ)
    assert next_change([*pubs, later], {"later"}, IN_2026) is None


# --- write_site -------------------------------------------------------------------------------


def tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def builds_of(public: Path) -> list[str]:
    folder = public.with_name(public.name + ".builds")
    return sorted(p.name for p in folder.iterdir() if re.fullmatch(r"\d{6}-[0-9a-f]{16}", p.name))


def test_write_site_publishes_a_symlink_to_a_complete_build(tmp_path: Path) -> None:
    files = build(IN_2021)
    public = tmp_path / "public"
    build_folder = write_site(files, public)
    assert public.is_symlink()
    assert not os.path.isabs(os.readlink(public))
    assert public.resolve() == build_folder.resolve()
    assert tree(public) == files


def test_write_site_swaps_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    public = tmp_path / "public"
    old, new = build(IN_2021), build(IN_2026)
    first = write_site(old, public)
    seen: list[Path] = []
    real_replace: Callable[[str | Path, str | Path], None] = os.replace

    def checked_replace(source: str | Path, target: str | Path) -> None:
        if Path(target) == public:
            assert public.resolve() == first.resolve()
            assert tree(public) == old, "the old site is complete until the swap"
            staged = Path(source).resolve()
            assert tree(staged) == new, "the new build is complete before the swap"
            seen.append(staged)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", checked_replace)
    second = write_site(new, public)
    monkeypatch.undo()
    assert seen == [second.resolve()]
    assert public.resolve() == second.resolve()
    assert tree(public) == new


def test_write_site_keeps_the_feeds_of_the_current_build(tmp_path: Path) -> None:
    public = tmp_path / "public"
    write_site(build(IN_2021), public)
    (public / "feeds" / "vi").mkdir(parents=True)
    (public / "feeds" / "vi" / "all.rss").write_bytes(b"<rss/>")
    write_site(build(IN_2026), public)
    assert (public / "feeds" / "vi" / "all.rss").read_bytes() == b"<rss/>"
    assert (public / "vi" / "archive" / "index.html").read_bytes() == build(IN_2026)[
        "vi/archive/index.html"
    ]


def test_feeds_published_as_a_subtree_survive_site_rebuilds(tmp_path: Path) -> None:
    public = tmp_path / "public"
    write_subtree({"feeds/vi/all.rss": b"one"}, public, "feeds")
    assert (public / "feeds" / "vi" / "all.rss").read_bytes() == b"one"
    site = build(IN_2021)
    write_site(site, public)
    assert (public / "feeds" / "vi" / "all.rss").read_bytes() == b"one"
    assert (public / "vi" / "index.html").read_bytes() == site["vi/index.html"]
    write_subtree({"feeds/vi/all.rss": b"two"}, public, "feeds")
    assert (public / "feeds" / "vi" / "all.rss").read_bytes() == b"two"
    assert (public / "vi" / "index.html").read_bytes() == site["vi/index.html"]
    write_site(build(IN_2026), public)
    assert (public / "feeds" / "vi" / "all.rss").read_bytes() == b"two"
    with pytest.raises(ValueError, match="feeds/"):
        write_site({"feeds/x.rss": b""}, public)


def test_write_site_keeps_only_the_previous_build(tmp_path: Path) -> None:
    public = tmp_path / "public"
    first = write_site({"index.html": b"1"}, public)
    second = write_site({"index.html": b"2"}, public)
    assert builds_of(public) == sorted([first.name, second.name])
    assert write_site({"index.html": b"2"}, public) == second, "same files: nothing to do"
    third = write_site({"index.html": b"3"}, public)
    assert builds_of(public) == sorted([second.name, third.name])
    assert (public / "index.html").read_bytes() == b"3"


def test_write_site_starts_from_an_empty_folder(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    write_site({"index.html": b"hello"}, public)
    assert public.is_symlink()
    assert (public / "index.html").read_bytes() == b"hello"


def test_write_site_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "mine.html").write_bytes(b"keep me")
    with pytest.raises(PublicFolderError, match="did not write"):
        write_site({"index.html": b"x"}, public)
    assert tree(public) == {"mine.html": b"keep me"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = tmp_path / "other"
    other.symlink_to(elsewhere)
    with pytest.raises(PublicFolderError, match="symlink"):
        write_site({"index.html": b"x"}, other)


@pytest.mark.parametrize("path", ["../escape.html", "/etc/passwd", "a//b.html", "a/./b", ""])
def test_write_site_rejects_paths_outside_the_site(tmp_path: Path, path: str) -> None:
    with pytest.raises(ValueError, match="relative path"):
        write_site({path: b"x"}, tmp_path / "public")
    assert not (tmp_path / "public").exists()


def test_files_mapping_is_not_modified(tmp_path: Path) -> None:
    files: Mapping[str, bytes] = build(IN_2021)
    snapshot = dict(files)
    write_site(files, tmp_path / "public")
    assert dict(files) == snapshot
