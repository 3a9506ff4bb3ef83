"""The form editor in a real browser, in the Vietnamese UI: headless Chromium against `serve`.

An author writes a campaign with a contacts table, two topics, an expiry date and a PDF
without typing YAML or a template tag; sees `check`'s error next to the expiry field in
Vietnamese and fixes it; her session ends while she types and her text survives signing in
again; she asks for review. An approver approves and publishes, and the public page shows
exactly her text and table. With BROADCASTER_SCREENSHOTS=DIR the editor is saved there.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.site.test_browser import BROADCASTER, browser, free_port, serving
from tests.web.admin.conftest import two_person_workspace
from tests.web.admin.test_browser import PASSWORD, _setup_link, _shot

__all__ = ["browser"]  # the module-scoped Chromium fixture

pytestmark = pytest.mark.browser

CAMPAIGN = "storm-helpline"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
VI_BODY = "Trong mùa mưa bão, **Tổ hỗ trợ** trả lời qua điện thoại và thư điện tử."
LATER = " Khi mất điện, hãy gọi lại sau."
CONTACT = ("Tổ hỗ trợ mẫu (ví dụ)", "0258 000 0000", "hotro@example.gov.vn")


@pytest.fixture(scope="module")
def editor_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """(URL, workspace, setup links) of `serve` on a two-person workspace with two users."""
    root = two_person_workspace(tmp_path_factory.mktemp("editor-browser") / "ws")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env |= {"BROADCASTER_LISTEN": f"127.0.0.1:{port}", "BROADCASTER_BASE_URL": url}
    links = {}
    for name, role in (("lan", "author"), ("minh", "approver")):
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
        yield url, root, links


def _set_password_and_sign_in(page: Page, url: str, link: str, name: str) -> None:
    page.goto(link)
    page.get_by_label("Mật khẩu mới").fill(PASSWORD)
    page.get_by_label("Nhập lại").fill(PASSWORD)
    page.get_by_role("button", name="Lưu mật khẩu").click()
    _sign_in(page, name)
    expect(page).to_have_url(f"{url}/admin/campaigns")


def _sign_in(page: Page, name: str) -> None:
    page.get_by_label("Tên").fill(name)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def _save(page: Page) -> None:
    page.get_by_role("button", name="Lưu", exact=True).first.click()


def _end_sessions(root: Path, name: str) -> None:
    """Her session ends on the server, as when it expires."""
    with sqlite3.connect(root / "var" / "broadcaster.db") as db:
        db.execute(
            "DELETE FROM staff_sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)",
            (name,),
        )


def _write(page: Page) -> None:
    """Everything the author types in the form: no YAML, no template tag."""
    vi, en = page.locator("#text-vi"), page.locator("#text-en")
    vi.get_by_label("Tiêu đề").fill("Đường dây hỗ trợ mùa mưa bão")
    vi.get_by_label("Tóm tắt").fill("Số điện thoại và thư điện tử hỗ trợ trong mùa mưa bão.")
    en.get_by_label("Tiêu đề").fill("Storm season helpline")
    en.get_by_label("Tóm tắt").fill("Phone and email help during the storm season.")
    # A contacts row (the table grows without JavaScript too: the page comes back).
    page.locator("#data-contacts").get_by_role("button", name="Thêm dòng").click()
    contacts = page.locator("#data-contacts")
    contacts.get_by_label("Tên 1", exact=True).fill(CONTACT[0])
    contacts.get_by_label("Điện thoại 1", exact=True).fill(CONTACT[1])
    contacts.get_by_label("Thư điện tử 1", exact=True).fill(CONTACT[2])
    contacts.get_by_label("Tên (tiếng Anh) 1", exact=True).fill("Sample support team (example)")
    # The bodies, with the contacts table put in by a button.
    vi.locator("textarea.body").fill(VI_BODY + "\n")
    vi.get_by_role("button", name="Bảng đầu mối liên hệ").click()
    en.locator("textarea.body").fill("During the storm season the **support team** answers.\n")
    en.get_by_role("button", name="Bảng đầu mối liên hệ").click()
    expect(vi.locator(".counts")).to_contain_text("ký tự · khoảng 1 phút đọc")
    page.get_by_label("Đầu mối hỗ trợ thủ tục hành chính").check()
    page.get_by_label("Bộ phận Một cửa").check()
    page.locator("#expires").fill("2021-01-01T00:00")  # before valid_from: check refuses it
    pdf: FilePayload = {"name": "cong-van-mau.pdf", "mimeType": "application/pdf", "buffer": PDF}
    page.locator("#upload").set_input_files(files=[pdf])


def _wait_public(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        assert time.monotonic() < deadline, f"{url} was not published in {timeout} s"
        time.sleep(0.2)


def test_an_author_writes_with_the_form_and_nothing_is_lost(
    browser: Browser, editor_site: tuple[str, Path, dict[str, str]]
) -> None:
    url, root, links = editor_site
    author = browser.new_context(viewport={"width": 1280, "height": 900})
    author.set_default_timeout(10000)
    page = author.new_page()
    _set_password_and_sign_in(page, url, links["lan"], "lan")
    page.get_by_label("Mã").fill(CAMPAIGN)
    page.get_by_role("button", name="Tạo").click()
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{CAMPAIGN}"))
    expect(page.get_by_role("link", name="Biểu mẫu")).to_have_attribute("aria-current", "page")
    _write(page)
    _shot(page, "admin-form-editor")
    _save(page)

    # check's error is next to the expiry field, in Vietnamese; fixed, it is gone.
    error = page.locator("#expires ~ .field-error")
    expect(error).to_have_text("thời điểm hết hiệu lực phải sau thời điểm có hiệu lực")
    expect(page.locator("#expires")).to_have_attribute("aria-invalid", "true")
    page.locator("#expires").fill("2030-12-31T17:00")
    _save(page)
    expect(page.locator(".field-error")).to_have_count(0)
    expect(page.locator("#attachments")).to_contain_text("cong-van-mau.pdf")
    expect(page.get_by_text("(Giờ Việt Nam, GMT+07:00)").first).to_be_visible()

    # Her session ends while she types: the autosave says so, and Save keeps the text.
    _end_sessions(root, "lan")
    page.locator("#vi-body").press("End")
    page.locator("#vi-body").press_sequentially(LATER)
    expect(page.locator("#autosave")).to_contain_text("Phiên đăng nhập đã hết hạn", timeout=15000)
    _save(page)
    expect(page).to_have_url(re.compile(r"/admin/login\?next="))
    expect(page.get_by_role("status")).to_contain_text("nội dung của bạn đã được giữ lại")
    _sign_in(page, "lan")
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{CAMPAIGN}\?draft="))
    expect(page.get_by_role("status").first).to_contain_text("đã được giữ lại")
    expect(page.locator("#vi-body")).to_have_value(re.compile(re.escape(LATER)))
    _save(page)
    expect(page).to_have_url(re.compile(rf"/admin/campaigns/{CAMPAIGN}\?done=saved"))
    assert LATER.strip() in (root / "campaigns" / CAMPAIGN / "vi.md").read_text("utf-8")

    # On a phone the editor fits the screen (the tables scroll inside their own box).
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the editor is {width} px wide on a 390 px screen"
    _shot(page, "admin-form-editor-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Nhận xét").fill("Nhờ anh Minh duyệt giúp.")
    page.get_by_role("button", name="Đề nghị duyệt").click()
    expect(page.locator("h1 .status")).to_have_text("đang chờ duyệt")
    author.close()

    # The approver approves and publishes.
    approver = browser.new_context(viewport={"width": 1280, "height": 900})
    approver.set_default_timeout(10000)
    page = approver.new_page()
    _set_password_and_sign_in(page, url, links["minh"], "minh")
    page.goto(f"{url}/admin/campaigns/{CAMPAIGN}")
    page.get_by_role("button", name="Phê duyệt").click()
    expect(page.locator("h1 .status")).to_have_text("đã phê duyệt")
    page.get_by_role("button", name="Đăng ngay").click()
    expect(page).to_have_url(re.compile(r"/admin/publications/\d+"))

    # The public page shows exactly that text and table.
    public = f"{url}/vi/{CAMPAIGN}/"
    _wait_public(public)
    page.goto(public)
    expect(page.get_by_role("heading", level=1)).to_have_text("Đường dây hỗ trợ mùa mưa bão")
    main = page.locator("main")
    expect(main).to_contain_text(
        "Trong mùa mưa bão, Tổ hỗ trợ trả lời qua điện thoại và thư điện tử." + LATER
    )
    table = main.get_by_role("table")
    expect(table.locator("th")).to_have_text(
        ["Đầu mối", "Đơn vị", "Điện thoại", "Thư điện tử", "Thời gian hỗ trợ"]
    )
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody td")).to_have_text([CONTACT[0], "", CONTACT[1], CONTACT[2], ""])
    page.goto(f"{url}/en/{CAMPAIGN}/")
    expect(page.locator("main").get_by_role("table").locator("tbody td").first).to_have_text(
        "Sample support team (example)"
    )
    approver.close()
