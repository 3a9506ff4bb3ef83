"""Rendering in process: template overrides, Markdown, sanitising and Unicode normalisation."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from lxml.html import HtmlElement

from broadcaster.publishing.preview import preview, write_preview
from broadcaster.settings import Settings
from broadcaster.workspace.load import load_workspace
from tests.conftest import copy_workspace
from tests.html import find_all, parse_html

CAMPAIGN = "online-submission"
PUBLISHED_AT = datetime(2021, 7, 10, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
MARKER = "WORKSPACE-TEMPLATE-MARKER-7f3a"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the fixture workspace that a test may edit."""
    return copy_workspace(tmp_path / "workspace")


def render(
    root: Path, out: Path, *, channels: tuple[str, ...] = (), locales: tuple[str, ...] = ("vi",)
) -> Path:
    """Load the workspace, preview the campaign and write it under `out` like the CLI does."""
    settings = Settings.from_environ(root, environ={})
    workspace, diag = load_workspace(root, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert workspace is not None, [str(problem) for problem in diag.errors]
    result = preview(
        workspace, settings, CAMPAIGN, channels=channels, locales=locales, published_at=PUBLISHED_AT
    )
    write_preview(result.renditions, out)
    return out


def campaign_file(root: Path, name: str) -> Path:
    return root / "campaigns" / CAMPAIGN / name


def append_to_body(root: Path, markdown: str, locale: str = "vi") -> None:
    path = campaign_file(root, f"{locale}.md")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + markdown, encoding="utf-8")


def set_front_matter(root: Path, key: str, value: str, locale: str = "vi") -> None:
    path = campaign_file(root, f"{locale}.md")
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    lines[index] = f"{key}: {json.dumps(value, ensure_ascii=False)}"
    path.write_text("\n".join(lines), encoding="utf-8")


def texts(node: HtmlElement, path: str) -> list[str]:
    return [element.text_content() for element in find_all(node, path)]


def page(out: Path, locale: str = "vi") -> HtmlElement:
    return parse_html((out / locale / "page.html").read_bytes())


def email_html(out: Path, name: str = "email.eml", locale: str = "vi") -> HtmlElement:
    message = email.message_from_bytes(
        (out / locale / name).read_bytes(), policy=email.policy.default
    )
    assert isinstance(message, email.message.EmailMessage)
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    assert isinstance(part, email.message.EmailMessage)
    return parse_html(part.get_content())


def title_of(root: Path, locale: str = "vi") -> str:
    text = campaign_file(root, f"{locale}.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("title:"))
    return unicodedata.normalize("NFC", line.removeprefix("title:").strip())


# --- templates -----------------------------------------------------------------------------


def test_workspace_template_overrides_the_built_in_one(root: Path, tmp_path: Path) -> None:
    override = root / "templates" / "website" / "page.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '<!DOCTYPE html>\n<html lang="{{ publication.content(locale).locale }}">\n'
        '<head><meta charset="utf-8"><title>{{ publication.content(locale).title }}</title></head>\n'
        f'<body><p id="marker">{MARKER}</p>'
        "<h1>{{ publication.content(locale).title }}</h1></body>\n</html>\n",
        encoding="utf-8",
    )
    out = render(root, tmp_path / "out", channels=("website",), locales=("vi", "en"))
    for locale in ("vi", "en"):
        html = page(out, locale)
        assert texts(html, "//p[@id='marker']") == [MARKER]
        assert texts(html, "//h1") == [title_of(root, locale)]
        assert find_all(html, "//nav") == []


def test_overriding_one_template_leaves_the_others_built_in(root: Path, tmp_path: Path) -> None:
    override = root / "templates" / "website" / "page.html"
    override.parent.mkdir(parents=True)
    override.write_text(f"<!DOCTYPE html><html><body>{MARKER}</body></html>\n", encoding="utf-8")
    out = render(root, tmp_path / "out", channels=("website", "citizens"))
    assert MARKER in page(out).text_content()
    mail = email_html(out)
    assert MARKER not in mail.text_content()
    assert texts(mail, "//h1") == [title_of(root)]


def test_workspace_stylesheet_is_included_by_the_built_in_page(root: Path, tmp_path: Path) -> None:
    override = root / "templates" / "website" / "style.css"
    override.parent.mkdir(parents=True)
    override.write_text(f"/* {MARKER} */ body {{ color: #000; }}\n", encoding="utf-8")
    out = render(root, tmp_path / "out", channels=("website",))
    html = page(out)
    styles = [style.text or "" for style in find_all(html, "//style")]
    assert len(styles) == 1
    assert MARKER in styles[0]
    assert texts(html, "//h1") == [title_of(root)]


def test_without_an_override_the_built_in_page_is_used(root: Path, tmp_path: Path) -> None:
    out = render(root, tmp_path / "out", channels=("website",))
    source = (out / "vi" / "page.html").read_text(encoding="utf-8")
    assert MARKER not in source
    html = page(out)
    assert html.get("lang") == "vi"
    assert texts(html, "//h1") == [title_of(root)]
    assert len(find_all(html, "//nav[contains(@class, 'languages')]//a")) == 2
    assert find_all(html, "//main//article")


# --- Markdown --------------------------------------------------------------------------------

TABLE = """\
## Đầu mối hỗ trợ

| Đơn vị | Số điện thoại | Giờ làm việc |
| --- | :---: | ---: |
| **UBND** xã Vĩnh Lương | 0258 3831 234 | 7:30–17:00 |
| Bộ phận Một cửa | 0258 3822 111 | 7:00–11:30 |
"""


def test_markdown_table_renders_as_an_html_table(root: Path, tmp_path: Path) -> None:
    append_to_body(root, TABLE)
    out = render(root, tmp_path / "out", channels=("website", "citizens", "partners"))
    for html in (page(out), email_html(out)):
        tables = find_all(html, "//table")
        assert len(tables) == 1
        table = tables[0]
        headers = [th.text_content().strip() for th in find_all(table, ".//thead//th")]
        assert headers == ["Đơn vị", "Số điện thoại", "Giờ làm việc"]
        rows = [
            [td.text_content().strip() for td in find_all(tr, "./td")]
            for tr in find_all(table, ".//tbody/tr")
        ]
        assert rows == [
            ["UBND xã Vĩnh Lương", "0258 3831 234", "7:30–17:00"],
            ["Bộ phận Một cửa", "0258 3822 111", "7:00–11:30"],
        ]
        assert find_all(table, ".//tbody//strong")[0].text_content() == "UBND"
    radio = (out / "vi" / "radio.txt").read_text(encoding="utf-8")
    for syntax in ("|---", "| ---", "---|", "**", "##"):
        assert syntax not in radio, syntax
    assert "Vĩnh Lương" in radio


# --- sanitising ------------------------------------------------------------------------------

HOSTILE = """\
<script>alert("body")</script>

<img src="https://tracker.example.net/pixel.gif" onerror="alert(1)">

<a href="javascript:alert(2)">bấm vào đây</a>

[Cổng giả mạo](javascript:alert(3)) và [thêm](JaVaScRiPt:alert(4)) và [nữa](java&#09;script:alert(5))

<javascript:alert(6)>

<iframe src="https://evil.example.net/"></iframe><style>body{display:none}</style>

[ảnh](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)
"""


def assert_neutralised(html: HtmlElement) -> None:
    assert find_all(html, "//script") == []
    assert find_all(html, "//iframe") == []
    assert find_all(html, "//body//style") == []
    assert find_all(html, "//img") == []
    for element in html.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            squashed = "".join(value.split()).lower()
            assert not squashed.startswith(("javascript:", "data:", "vbscript:")), (name, value)


def test_raw_html_and_javascript_links_in_a_body_are_neutralised(
    root: Path, tmp_path: Path
) -> None:
    append_to_body(root, HOSTILE)
    out = render(root, tmp_path / "out", channels=("website", "citizens", "press-desk", "feeds"))
    assert_neutralised(page(out))
    assert_neutralised(email_html(out))
    assert_neutralised(email_html(out, "press-desk-email.eml"))
    item = json.loads((out / "vi" / "feed-entry.json").read_bytes())
    assert_neutralised(parse_html(f"<div>{item['content_html']}</div>"))
    entry = etree.fromstring((out / "vi" / "feed-entry.xml").read_bytes())
    content = entry.findtext(
        "{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}content"
    )
    assert content
    assert_neutralised(parse_html(f"<div>{content}</div>"))
    # The hostile body was rendered (as text), and the campaign's own links survive.
    text = page(out).text_content()
    assert "bấm vào đây" in text
    assert "Cổng giả mạo" in text
    hrefs = [a.get("href") for a in find_all(page(out), "//article//a[@href]")]
    assert "https://dichvucong.gov.vn" in hrefs


def test_markup_in_the_title_and_summary_is_shown_as_text(root: Path, tmp_path: Path) -> None:
    title = 'Thông báo <script>alert("t")</script> khẩn'
    summary = 'Tóm tắt <img src=x onerror="alert(1)"> & hướng dẫn'
    set_front_matter(root, "title", title)
    set_front_matter(root, "summary", summary)
    out = render(root, tmp_path / "out", channels=("website", "citizens"))
    for html in (page(out), email_html(out)):
        assert_neutralised(html)
        assert texts(html, "//h1") == [title]
        assert texts(html, "//p[contains(@class, 'summary')]") == [summary]


# --- Unicode ---------------------------------------------------------------------------------


def test_text_is_nfc_even_when_the_source_is_nfd(root: Path, tmp_path: Path) -> None:
    title = title_of(root)
    for name in ("vi.md", "campaign.yaml"):
        path = campaign_file(root, name)
        text = path.read_text(encoding="utf-8")
        path.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    assert not unicodedata.is_normalized("NFC", campaign_file(root, "vi.md").read_text("utf-8"))

    out = render(root, tmp_path / "out")
    for path in (out / "vi").iterdir():
        if path.suffix in {".html", ".xml", ".json", ".txt"}:
            text = path.read_text(encoding="utf-8")
            assert unicodedata.is_normalized("NFC", text), path.name

    assert texts(page(out), "//h1") == [title]
    for name in ("email.eml", "press-desk-email.eml"):
        message = email.message_from_bytes(
            (out / "vi" / name).read_bytes(), policy=email.policy.default
        )
        subject = str(message["Subject"])
        assert unicodedata.is_normalized("NFC", subject)
        assert subject.endswith(title)
        assert unicodedata.is_normalized("NFC", str(message["From"]))
        for part in message.walk():
            if part.get_content_maintype() == "text":
                assert isinstance(part, email.message.EmailMessage)
                assert unicodedata.is_normalized("NFC", part.get_content()), name
    event = json.loads((out / "vi" / "webhook.json").read_bytes())
    assert event["data"]["title"] == title
    assert event["data"]["issuer"] == "UBND tỉnh Khánh Hòa"
    radio = (out / "vi" / "radio.txt").read_text(encoding="utf-8")
    assert "Ủy ban nhân dân tỉnh Khánh Hòa" in radio
    assert "UBND" not in radio.replace("6176/UBND-KSTT", "")
