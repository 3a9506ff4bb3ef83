"""The published site in a real browser: headless Chromium against `broadcaster serve`.

The example workspace is published with `broadcaster publish --all --wait`, then served by a
`broadcaster serve` child process; Chromium (the system one, driven by Playwright) reads the
home page in Vietnamese and English, switches language and finds the support contacts
through the navigation, as a reader would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from broadcaster.text.strings import text
from tests.conftest import copy_workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROADCASTER = Path(sys.executable).with_name("broadcaster")  # the venv's console script

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{url}/healthz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"serve did not become healthy in {timeout} s:\n{log.read_text()}")
        time.sleep(0.05)


@contextlib.contextmanager
def serving(root: Path, env: dict[str, str], url: str) -> Iterator[None]:
    """`broadcaster serve` on `root` until the block ends; its output goes to serve.log."""
    log = root.parent / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BROADCASTER), "serve", "--root", str(root)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(url, process, log, timeout=20)
        yield
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(URL, workspace) of a `broadcaster serve` showing the published example workspace."""
    root = copy_workspace(tmp_path_factory.mktemp("browser") / "ws")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env |= {"BROADCASTER_LISTEN": f"127.0.0.1:{port}", "BROADCASTER_BASE_URL": url}
    published = subprocess.run(
        [str(BROADCASTER), "publish", "--all", "--wait", "--root", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert published.returncode == 0, published.stderr
    with serving(root, env, url):
        yield url, root


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI installs it, so this is an error here")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(5000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def site_title(root: Path, locale: str) -> str:
    config = yaml.safe_load((root / "channels/website.yaml").read_text(encoding="utf-8"))
    value = config["title"][locale]
    assert isinstance(value, str)
    return value


def campaign_title(root: Path, campaign: str, locale: str) -> str:
    source = (root / "campaigns" / campaign / f"{locale}.md").read_text(encoding="utf-8")
    value = yaml.safe_load(source.split("---", 2)[1])["title"]
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize(("path", "locale"), [("/", "vi"), ("/vi/", "vi"), ("/en/", "en")])
def test_home_page_in_each_language(
    page: Page, site: tuple[str, Path], path: str, locale: str
) -> None:
    url, root = site
    response = page.goto(url + path)
    assert response is not None
    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.get_by_role("heading", level=1)).to_have_text(site_title(root, locale))
    expect(page).to_have_title(site_title(root, locale))

    # The urgent guidance comes first, with a badge saying so.
    items = page.locator("main li.item")
    urgent = items.filter(has=page.locator(".badge"))
    expect(urgent).to_have_count(1)
    expect(urgent.locator(".badge")).to_have_text(text("urgent", locale))
    expect(urgent.get_by_role("link")).to_have_text(
        campaign_title(root, "online-submission", locale)
    )
    expect(items.first).to_contain_text(campaign_title(root, "online-submission", locale))
    for campaign in ("support-contacts", "commune-support-points"):
        expect(
            page.get_by_role("link", name=campaign_title(root, campaign, locale))
        ).to_be_visible()
    # Expired guidance is not on the home page.
    expected = campaign_title(root, "one-stop-covid-measures", locale)
    expect(page.get_by_role("link", name=expected)).to_have_count(0)


def test_language_switcher_moves_between_vietnamese_and_english(
    page: Page, site: tuple[str, Path]
) -> None:
    url, root = site
    page.goto(f"{url}/vi/")
    languages = page.get_by_role("navigation", name=text("languages", "vi"))
    current = languages.locator("[aria-current=page]")
    expect(current).to_have_attribute("hreflang", "vi")

    languages.locator("a[hreflang=en]").click()
    expect(page).to_have_url(f"{url}/en/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(site_title(root, "en"))

    page.get_by_role("navigation", name=text("languages", "en")).locator("a[hreflang=vi]").click()
    expect(page).to_have_url(f"{url}/vi/")
    expect(page.locator("html")).to_have_attribute("lang", "vi")


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_support_contacts_are_found_through_the_navigation(
    page: Page, site: tuple[str, Path], locale: str
) -> None:
    url, root = site
    page.goto(f"{url}/{locale}/")
    navigation = page.get_by_role("navigation", name=text("site_navigation", locale))
    navigation.get_by_role("link", name=text("site_contacts", locale)).click()

    expect(page).to_have_url(f"{url}/{locale}/contacts/")
    expect(page.get_by_role("heading", level=1)).to_have_text(text("site_contacts", locale))
    expect(navigation.locator("[aria-current=page]")).to_have_text(text("site_contacts", locale))
    contacts = yaml.safe_load(
        (root / "campaigns/support-contacts/campaign.yaml").read_text(encoding="utf-8")
    )["data"]["contacts"]
    for contact in contacts:
        name = contact["name"] if locale == "vi" else contact["en"]["name"]
        card = page.locator("li.card").filter(
            has=page.get_by_role("heading", name=name, exact=True)
        )
        expect(card).to_have_count(1)
        phone = card.get_by_role("link", name=contact["phone"])
        digits = "".join(c for c in contact["phone"] if c.isdigit())
        expect(phone).to_have_attribute("href", f"tel:{digits}")
        expect(card.get_by_role("link", name=contact["email"])).to_have_attribute(
            "href", f"mailto:{contact['email']}"
        )
    # Every phone number on the page can be called with one tap.
    expect(page.locator("main a[href^='tel:']")).not_to_have_count(0)


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_a_newsroom_finds_the_feeds_from_the_home_page(
    page: Page, site: tuple[str, Path], locale: str
) -> None:
    """From the home page's footer to the feeds page, whose addresses answer with feeds.

    With BROADCASTER_SCREENSHOTS=DIR the Vietnamese feeds page is saved there as
    newsrooms-feeds.png (docs/newsrooms.md shows it)."""
    url, _ = site
    page.goto(f"{url}/{locale}/")
    page.get_by_role("link", name=text("feeds_link", locale)).click()
    expect(page).to_have_url(f"{url}/{locale}/feeds/")
    expect(page.get_by_role("heading", level=1)).to_have_text(text("site_feeds", locale))
    rss = page.get_by_label(text("feeds_copy_label", locale).format(format="RSS 2.0")).first
    address = rss.input_value()
    assert address == f"{url}/feeds/{locale}/all.rss"
    expect(page.get_by_label("WebSub hub")).to_have_value(f"{url}/websub")
    answer = page.request.get(address)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/rss+xml")
    assert f'<{url}/websub>; rel="hub"' in answer.headers["link"]
    opml = page.request.get(f"{url}/feeds.opml")
    assert opml.status == 200
    assert address.encode() in opml.body()
    folder = os.environ.get("BROADCASTER_SCREENSHOTS")
    if folder and locale == "vi":
        page.set_viewport_size({"width": 900, "height": 900})
        page.screenshot(path=str(Path(folder) / "newsrooms-feeds.png"), full_page=True)
