"""Every admin and public page, in Chromium: no sideways scrolling on a 390 px phone, no axe-core
violation, and valid HTML for the Nu HTML Checker (npm's vnu-jar, run with the machine's Java).

The pages are found by following links from the home page and from the staff pages of an
admin, on `serve` over the published fixture workspace with one subscriber.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from broadcaster.subscribers.tokens import SignedTokens
from tests.conftest import REPO, copy_workspace
from tests.site.test_browser import BROADCASTER, browser, free_port, serving

__all__ = ["browser"]

pytestmark = pytest.mark.browser

SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "a long enough password"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# Not pages: feeds, files, downloads, the JSON API, the sign-out form's target.
SKIPPED = (".rss", ".atom", ".json", ".xml", ".csv", ".pdf", ".txt", "/files/", "/feeds/")
# Text with a letter only Vietnamese uses, not inside an element marked lang="vi" (on an English
# page): authored campaign text is the author's to mark, so public pages are checked outside it
# (and raw renditions, shown in <pre>, are left out too).
UNMARKED_VIETNAMESE = """(scope) => {
  const vietnamese = /[ăâđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;
  const found = [];
  for (const root of document.querySelectorAll(scope)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const parent = node.parentElement;
      if (!parent || parent.closest("textarea, script, style, pre")) continue;
      if (!vietnamese.test(node.textContent)) continue;
      const marked = parent.closest("[lang]");
      if (!marked || !marked.lang.startsWith("vi")) found.push(node.textContent.trim().slice(0, 60));
    }
  }
  return found;
}"""
VNU_PLACES = (REPO / ".ci" / "node_modules", REPO / "node_modules")


def _vnu() -> Path | None:
    for folder in VNU_PLACES:
        jar = folder / "vnu-jar" / "build" / "dist" / "vnu.jar"
        if jar.is_file() and shutil.which("java"):
            return jar
    return None


def _run(root: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BROADCASTER), *args, "--root", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(URL, admin setup link, a subscriber's token pages) of `serve` on the published
    fixture workspace."""
    root = copy_workspace(tmp_path_factory.mktemp("quality") / "ws")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env |= {
        "BROADCASTER_LISTEN": f"127.0.0.1:{port}",
        "BROADCASTER_BASE_URL": url,
        "BROADCASTER_SECRET_KEY": SECRET,
    }
    _run(root, env, "publish", "--all", "--wait")
    people = root.parent / "people.csv"
    people.write_text(
        "email,locale,topics,frequency\nlan@example.gov.vn,vi,online-services;covid-19-measures,daily\n",
        encoding="utf-8",
    )
    _run(root, env, "subscribers", "import", str(people), "--confirmed", "--consent-note", "form")
    added = _run(root, env, "users", "add", "hoa", "--role", "admin")
    link = next(word for word in added.split() if "/admin/setup/" in word)
    tokens = SignedTokens(SECRET.encode())
    pages = {
        purpose: f"{url}/{purpose}/{tokens.make(purpose, 1, 0)}"
        for purpose in ("confirm", "unsubscribe", "preferences")
    }
    with serving(root, env, url):
        yield url, link, pages


def _signed_in(browser: Browser, url: str, link: str) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10000)
    page = context.new_page()
    page.goto(link)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=confirm]").fill(PASSWORD)
    page.locator("form button").click()
    page.goto(f"{url}/admin/login")
    page.locator("input[name=name]").fill("hoa")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button").click()
    expect(page).to_have_url(f"{url}/admin/campaigns")
    page.close()
    return context


def _crawl(context: BrowserContext, url: str, starts: list[str], limit: int) -> list[str]:
    """Same-site page URLs reachable by links from `starts` (admin ones only from admin)."""
    page = context.new_page()
    seen: list[str] = []
    queue = list(starts)
    while queue and len(seen) < limit:
        target = urldefrag(queue.pop(0)).url
        path = urlsplit(target).path
        if target in seen or any(part in path for part in SKIPPED):
            continue
        answer = page.goto(target)
        if (
            answer is None
            or answer.status != 200
            or "html" not in answer.headers.get("content-type", "")
        ):
            continue
        seen.append(target)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            href = urldefrag(str(href)).url.split("?lang=")[0]
            if href.startswith(url) and href not in seen and href not in queue:
                if "/admin" in href and "/admin" not in target:
                    continue
                queue.append(href)
    page.close()
    return seen


@pytest.fixture(scope="module")
def pages(
    browser: Browser, site: tuple[str, str, dict[str, str]]
) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A signed-in admin's browser and every page to check."""
    url, link, tokens = site
    context = _signed_in(browser, url, link)
    admin = _crawl(context, url, [f"{url}/admin/campaigns", f"{url}/admin/api/docs"], 40)
    public = _crawl(context, url, [f"{url}/", f"{url}/en/"], 30)
    try:
        yield context, [*admin, *public, *tokens.values(), f"{url}/admin/login?lang=en"]
    finally:
        context.close()


def test_the_crawl_reaches_every_kind_of_page(pages: tuple[BrowserContext, list[str]]) -> None:
    _, urls = pages
    paths = {urlsplit(u).path for u in urls}
    for needed in (
        "/admin/campaigns",
        "/admin/publications",
        "/admin/audit",
        "/admin/users",
        "/admin/partners",
        "/admin/api/docs",
        "/admin/campaigns/support-contacts",
        "/admin/campaigns/support-contacts/preview",
        "/vi/",
        "/en/",
    ):
        assert needed in paths, sorted(paths)
    assert any(p.startswith("/admin/publications/") for p in paths), sorted(paths)
    assert any(p.startswith("/preferences/") for p in paths)


def _overflow(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_no_page_scrolls_sideways_on_a_phone(pages: tuple[BrowserContext, list[str]]) -> None:
    context, urls = pages
    page = context.new_page()
    page.set_viewport_size(PHONE)
    wide = {}
    for target in urls:
        page.goto(target)
        if _overflow(page) > PHONE["width"]:
            wide[target] = _overflow(page)
    page.set_viewport_size(DESKTOP)
    page.goto(urls[0].split("/admin/")[0] + "/admin/audit")
    if _overflow(page) > DESKTOP["width"]:
        wide["audit at 1280 px"] = _overflow(page)
    page.close()
    assert wide == {}


def test_no_page_has_an_axe_violation(pages: tuple[BrowserContext, list[str]]) -> None:
    context, urls = pages
    page = context.new_page()
    axe = Axe()
    reports = {}
    for target in urls:
        page.goto(target)
        result = axe.run(page)
        if result.violations_count:
            reports[target] = result.generate_report()
    page.close()
    assert reports == {}, "\n\n".join(f"{u}\n{r}" for u, r in reports.items())


def test_vietnamese_words_on_english_pages_are_marked(
    pages: tuple[BrowserContext, list[str]],
) -> None:
    context, urls = pages
    page = context.new_page()
    page.goto(urls[0].split("/admin/")[0] + "/admin/campaigns?lang=en")
    unmarked = {}
    for target in urls:
        page.goto(target)
        if page.evaluate("document.documentElement.lang") != "en":
            continue
        scope = "body" if "/admin" in target else "header, nav, footer"
        found = page.evaluate(UNMARKED_VIETNAMESE, scope)
        if found:
            unmarked[target] = found
    page.goto(urls[0].split("/admin/")[0] + "/admin/campaigns?lang=vi")
    page.close()
    assert unmarked == {}, json.dumps(unmarked, ensure_ascii=False, indent=1)


def test_every_page_is_valid_html(pages: tuple[BrowserContext, list[str]], tmp_path: Path) -> None:
    jar = _vnu()
    if jar is None:
        reason = "vnu.jar (npm's vnu-jar) or java is missing; .ci/run installs both"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, so this is an error here")
        pytest.skip(reason)
    context, urls = pages
    files = {}
    for i, target in enumerate(urls):
        answer = context.request.get(target)
        assert answer.ok, target
        path = tmp_path / f"page-{i:03d}.html"
        path.write_bytes(answer.body())
        files[path.name] = target
    checked = subprocess.run(
        ["java", "-jar", str(jar), "--format", "json", "--errors-only", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    messages = json.loads(checked.stderr or '{"messages": []}')["messages"]
    errors = [
        f"{files[Path(m['url']).name]}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert errors == [], "\n".join(errors)


def test_the_dashboard_chart_and_the_audit_log_on_a_desktop_and_a_phone(
    pages: tuple[BrowserContext, list[str]],
) -> None:
    """What docs/staff.md shows (saved there with BROADCASTER_SCREENSHOTS=docs)."""
    context, urls = pages
    site = urls[0].split("/admin/")[0]
    folder = os.environ.get("BROADCASTER_SCREENSHOTS")
    page = context.new_page()
    for device, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.goto(f"{site}/admin/publications?lang=vi#charts")
        charts = page.locator("figure.chart")
        expect(charts).to_have_count(2)
        expect(charts.first.locator("rect").first).to_be_visible()
        if folder:
            charts.first.locator("xpath=..").screenshot(
                path=str(Path(folder) / f"admin-dashboard-chart-{device}.png")
            )
        page.goto(f"{site}/admin/audit")
        expect(page.locator("table tbody tr").first).to_contain_text("đã")
        if folder:
            page.screenshot(path=str(Path(folder) / f"admin-audit-{device}.png"), full_page=True)
    page.close()
