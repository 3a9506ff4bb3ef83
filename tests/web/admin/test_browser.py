"""The staff side in a real browser: headless Chromium against `broadcaster serve`.

An author sets her password from the one-time link, writes a new campaign in Vietnamese and
English, previews every channel and asks for review; an approver signs in, approves and
publishes it; the delivery dashboard shows it delivered and the public page shows it.
With BROADCASTER_SCREENSHOTS=DIR the main pages are saved there as PNG (docs/staff.md shows them).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.site.test_browser import BROADCASTER, browser, free_port, serving
from tests.web.admin.conftest import two_person_workspace

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_browser

pytestmark = pytest.mark.browser

CAMPAIGN = "storm-office-hours"
VI = """---
title: Giờ làm việc Bộ phận Một cửa trong mùa mưa bão
summary: Bộ phận Một cửa vẫn tiếp nhận hồ sơ trực tuyến khi có bão; quầy có thể đóng sớm.
---

Khi có **bão**, Bộ phận Một cửa có thể đóng quầy sớm. Hồ sơ vẫn được nộp trực tuyến
tại dichvucong.example.gov.vn. Hỗ trợ: 0258 000 0000 (số mẫu).
"""
EN = """---
title: One-stop counter hours in the storm season
summary: Applications are still accepted online during storms; counters may close early.
---

During a **storm** the one-stop counters may close early. Applications can still be
submitted online at dichvucong.example.gov.vn. Help: 0258 000 0000 (sample number).
"""
META = """topics: [one-stop-counters]
priority: urgent
valid_from: 2021-07-09T00:00:00+07:00
issuer: {vi: UBND tỉnh Khánh Hòa, en: Khanh Hoa Provincial People's Committee}
"""
PASSWORD = "a long enough password"


def _setup_link(output: str) -> str:
    match = re.search(r"(http://\S+/admin/setup/\S+)", output)
    assert match, output
    return match.group(1)


@pytest.fixture(scope="module")
def staff_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(URL, setup links by user) of `serve` on a two-person workspace with two users."""
    root = two_person_workspace(tmp_path_factory.mktemp("admin-browser") / "ws")
    # Partners on this machine may be added (the example refuses loopback, as it should).
    partners = root / "channels" / "partners.yaml"
    partners.write_text(
        partners.read_text("utf-8").replace("allow_networks: []", "allow_networks: [127.0.0.0/8]"),
        encoding="utf-8",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env |= {"BROADCASTER_LISTEN": f"127.0.0.1:{port}", "BROADCASTER_BASE_URL": url}
    links = {}
    for name, role in (("lan", "author"), ("minh", "approver"), ("hoa", "admin")):
        added = subprocess.run(
            [str(BROADCASTER), "users", "add", name, "--role", role, "--root", str(root)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        links[name] = _setup_link(added.stdout)
    with serving(root, env, url):
        yield url, links


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    folder = os.environ.get("BROADCASTER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def _sign_in(page: Page, url: str, setup_link: str, name: str) -> None:
    page.goto(setup_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Đặt mật khẩu")
    page.get_by_label("Mật khẩu mới").fill(PASSWORD)
    page.get_by_label("Nhập lại").fill(PASSWORD)
    page.get_by_role("button", name="Lưu mật khẩu").click()
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("Tên").fill(name)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{url}/admin/campaigns")


def test_author_writes_approver_approves_and_it_is_delivered(
    browser: Browser, staff_site: tuple[str, dict[str, str]]
) -> None:
    url, links = staff_site
    author = browser.new_context(viewport={"width": 1280, "height": 900})
    author.set_default_timeout(10000)
    page = author.new_page()
    _sign_in(page, url, links["lan"], "lan")
    expect(page.get_by_text("two-person")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="support-contacts")
    expect(row.locator(".status")).to_have_text("bản nháp")
    _shot(page, "admin-campaigns")

    # Write a new campaign, Vietnamese and English side by side.
    page.get_by_label("Mã").fill(CAMPAIGN)
    page.get_by_role("button", name="Tạo").click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{CAMPAIGN}"))
    # People who write the files themselves use the Advanced view (the form is the default).
    page.get_by_role("link", name="Nâng cao (tệp)").click()
    page.get_by_label("Tiếng Việt").fill(VI)
    page.get_by_label("Tiếng Anh").fill(EN)
    page.get_by_label("Thông tin chung").fill(META)
    _shot(page, "admin-editor")
    # The live preview follows the unsaved text.
    page.get_by_text("Xem trước trực tiếp").click()
    live = page.locator("#live-preview").frame_locator("iframe[title='website en page.html']")
    expect(live.get_by_role("heading", level=1)).to_have_text(
        "One-stop counter hours in the storm season"
    )
    page.get_by_role("button", name="Lưu và xem trước").click()

    # The preview shows every channel's rendition, in both languages.
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{CAMPAIGN}/preview"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("mùa mưa bão")
    frame = page.frame_locator("iframe[title='website en page.html']")
    expect(frame.get_by_role("heading", level=1)).to_have_text(
        "One-stop counter hours in the storm season"
    )
    expect(page.get_by_role("heading", name="partners · vi")).to_be_visible()
    expect(page.get_by_text("radio.txt").first).to_be_visible()
    _shot(page, "admin-preview", full_page=False)

    # Ask for review; an author has no approve or publish button.
    page.get_by_role("link", name="Quay lại trình soạn thảo").click()
    expect(page.get_by_role("button", name="Phê duyệt")).to_have_count(0)
    expect(page.get_by_role("button", name="Đăng ngay")).to_have_count(0)
    page.get_by_label("Nhận xét").fill("Nhờ anh Minh duyệt giúp.")
    page.get_by_role("button", name="Đề nghị duyệt").click()
    expect(page.locator("h1 .status")).to_have_text("đang chờ duyệt")
    author.close()

    # The approver approves and publishes.
    approver = browser.new_context(viewport={"width": 1280, "height": 900})
    approver.set_default_timeout(10000)
    page = approver.new_page()
    _sign_in(page, url, links["minh"], "minh")
    page.get_by_role("link", name="Giờ làm việc Bộ phận Một cửa trong mùa mưa bão").click()
    expect(page.get_by_role("button", name="Đăng ngay")).to_be_disabled()
    expect(page.get_by_role("table").last).to_contain_text("Nhờ anh Minh duyệt giúp.")
    page.get_by_role("button", name="Phê duyệt").click()
    expect(page.locator("h1 .status")).to_have_text("đã phê duyệt")
    _shot(page, "admin-review")
    page.get_by_role("button", name="Đăng ngay").click()

    # The dashboard follows the delivery until it is done.
    expect(page).to_have_url(re.compile(r"/admin/publications/\d+"))
    website = page.get_by_role("row").filter(has_text="website")
    expect(website.locator("td").nth(1)).to_have_text("1", timeout=20000)
    expect(page.get_by_role("row").filter(has_text="press-desk").locator("td").nth(1)).to_have_text(
        "2", timeout=20000
    )
    page.get_by_role("link", name="Gửi tin").click()
    expect(page.get_by_role("row").filter(has_text=CAMPAIGN).first).to_contain_text("website: 1")
    _shot(page, "admin-delivery")

    page.goto(f"{url}/admin/campaigns")
    row = page.get_by_role("row").filter(has_text=CAMPAIGN)
    expect(row.locator(".status")).to_have_text("đã đăng")
    page.goto(f"{url}/en/{CAMPAIGN}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "One-stop counter hours in the storm season"
    )
    approver.close()


def test_an_admin_adds_a_partner_and_sees_its_secret_once(
    browser: Browser, staff_site: tuple[str, dict[str, str]]
) -> None:
    url, links = staff_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, url, links["hoa"], "hoa")
    page.get_by_role("link", name="Đối tác").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đối tác báo chí")
    form = page.locator("form[action='/admin/partners']")
    form.get_by_label("Tên").fill("baokhanhhoa")
    form.get_by_label("URL").fill("https://169.254.169.254/latest/meta-data")
    form.get_by_label("Dịch vụ công trực tuyến").check()
    form.get_by_role("button", name="Thêm").click()
    expect(page.get_by_role("alert")).to_contain_text("169.254.169.254 is a link-local address")
    expect(form.get_by_label("Tên")).to_have_value("baokhanhhoa")  # nothing typed is lost
    form.get_by_label("URL").fill("http://127.0.0.1:9/hooks/broadcaster")
    form.get_by_role("button", name="Thêm").click()
    secret = page.get_by_role("status").locator("code")
    expect(secret).to_have_text(re.compile(r"^whsec_"))
    row = page.get_by_role("row").filter(has_text="baokhanhhoa")
    expect(row).to_contain_text("đang nhận")
    _shot(page, "admin-partners")
    shown = secret.inner_text()
    page.goto(f"{url}/admin/partners")
    expect(page.get_by_role("row").filter(has_text="baokhanhhoa")).to_be_visible()
    assert shown not in page.content()
    page.close()
