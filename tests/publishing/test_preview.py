"""`broadcaster preview` end to end: the real command on the fixture workspace.

Every rendition is parsed back with a real parser (email, lxml, json) and checked for
what a reader, a newsroom or a partner system would actually see.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
import unicodedata
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest
import yaml
from lxml import etree
from lxml.html import HtmlElement

from broadcaster.text import strings
from tests.conftest import FIXTURE as ROOT
from tests.html import find_all, parse_html

CLI = Path(sys.executable).parent / "broadcaster"
CAMPAIGN = "online-submission"
BASE_URL = "https://thongtin.example.gov.vn"
ATOM = "http://www.w3.org/2005/Atom"
LOCALES = ("vi", "en")
RENDITIONS = {
    "page.html",
    "feed-entry.xml",
    "feed-entry.json",
    "email.eml",
    "press-desk-email.eml",
    "webhook.json",
    "radio.txt",
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `broadcaster` command on the fixture workspace."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BROADCASTER_", "SMTP_", "MAIL_", "DKIM_"))
    }
    env["BROADCASTER_BASE_URL"] = BASE_URL
    return subprocess.run(
        [str(CLI), *args, "--root", str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def front_matter(locale: str) -> dict[str, str]:
    """title/summary exactly as the author wrote them in campaigns/<id>/<locale>.md."""
    text = (ROOT / "campaigns" / CAMPAIGN / f"{locale}.md").read_text(encoding="utf-8")
    _, head, _ = text.split("---\n", 2)
    data: dict[str, str] = yaml.safe_load(head)
    return {key: unicodedata.normalize("NFC", value) for key, value in data.items()}


def ui_string(key: str, locale: str) -> str:
    """The interface string a reader of `locale` sees (unknown locales get English)."""
    return strings.text(key, locale)


def texts(node: HtmlElement, path: str) -> list[str]:
    return [element.text_content().strip() for element in find_all(node, path)]


def page_url(locale: str) -> str:
    return f"{BASE_URL}/{locale}/{CAMPAIGN}/"


def parse_mail(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    assert part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def raw_header(data: bytes, name: str) -> bytes:
    """The header exactly as it is on the wire (folded lines joined)."""
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
    match = re.search(
        rb"^" + name.encode() + rb":(.*(?:\r?\n[ \t].*)*)", head, re.MULTILINE | re.IGNORECASE
    )
    assert match is not None, f"no {name} header"
    return match.group(1)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`broadcaster preview online-submission --out DIR`, run once for the module."""
    folder = tmp_path_factory.mktemp("preview")
    result = run_cli("preview", CAMPAIGN, "--out", str(folder))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return folder


def read(out: Path, locale: str, name: str) -> bytes:
    return (out / locale / name).read_bytes()


# --- what gets written ---------------------------------------------------------------------


def test_preview_writes_every_rendition_for_each_locale(out: Path) -> None:
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    renditions = {f"{locale}/{name}" for locale in LOCALES for name in RENDITIONS}
    assert written == renditions | {"cap.xml"}  # the campaign is urgent: a CAP alert
    for path in out.rglob("*"):
        if path.is_file():
            assert path.stat().st_size > 0, path


# --- email to subscribers ------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_email_is_multipart_alternative_with_text_and_html(out: Path, locale: str) -> None:
    message = parse_mail(read(out, locale, "email.eml"))
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    title = front_matter(locale)["title"]
    assert title in body_text(message, "plain")
    html = parse_html(body_text(message, "html"))
    assert texts(html, "//h1") == [title]


@pytest.mark.parametrize("email_file", ["email.eml", "press-desk-email.eml"])
@pytest.mark.parametrize("locale", LOCALES)
def test_email_declares_its_language(out: Path, locale: str, email_file: str) -> None:
    message = parse_mail(read(out, locale, email_file))
    assert message["Content-Language"] == locale


def test_email_subject_is_rfc2047_encoded_vietnamese_title(out: Path) -> None:
    data = read(out, "vi", "email.eml")
    raw = raw_header(data, "Subject")
    assert raw.isascii(), raw
    assert b"=?utf-8?" in raw.lower()
    subject = parse_mail(data)["Subject"]
    assert isinstance(subject, str)
    assert unicodedata.is_normalized("NFC", subject)
    title = front_matter("vi")["title"]
    meta = yaml.safe_load((ROOT / "campaigns" / CAMPAIGN / "campaign.yaml").read_text("utf-8"))
    # An urgent campaign's subject starts with the urgent marker, then the title.
    marker = ui_string("urgent_subject", "vi")
    assert subject == (f"{marker} {title}" if meta.get("priority") == "urgent" else title)


@pytest.mark.parametrize("locale", LOCALES)
def test_email_has_one_click_unsubscribe(out: Path, locale: str) -> None:
    message = parse_mail(read(out, locale, "email.eml"))
    targets = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    schemes = sorted(urlsplit(target).scheme for target in targets)
    assert len(targets) == 2, targets
    assert schemes[0] in ("http", "https")
    assert schemes[1] == "mailto"
    web = next(t for t in targets if t.startswith("http"))
    assert urlsplit(web).netloc == urlsplit(BASE_URL).netloc
    assert "@" in next(t for t in targets if t.startswith("mailto:"))
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"]


@pytest.mark.parametrize("locale", LOCALES)
def test_email_html_has_inlined_styles_and_no_remote_resources(out: Path, locale: str) -> None:
    message = parse_mail(read(out, locale, "email.eml"))
    html = parse_html(body_text(message, "html"))
    assert html.get("lang") == locale
    body = html.find("body")
    assert body is not None
    assert body.get("style")
    for tag in ("h1", "h2", "a"):
        elements = find_all(html, f"//{tag}")
        assert elements, tag
        assert all(el.get("style") for el in elements), tag
    assert find_all(html, "//link") == []
    assert find_all(html, "//style") == []
    assert find_all(html, "//script") == []
    for img in find_all(html, "//img"):
        assert not urlsplit(img.get("src", "")).scheme.startswith("http"), img.get("src")


# --- press release to the desk list --------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_press_desk_email_attaches_radio_script(out: Path, locale: str) -> None:
    message = parse_mail(read(out, locale, "press-desk-email.eml"))
    assert message.get_content_type() == "multipart/mixed"
    assert "List-Unsubscribe" not in message
    attachments = list(message.iter_attachments())
    # The directive as a PDF (campaigns/online-submission/files/), then the radio script.
    assert [a.get_content_type() for a in attachments] == ["application/pdf", "text/plain"]
    assert attachments[0].get_filename() == "6176-UBND-KSTT.pdf"
    attachment = attachments[1]
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content_type() == "text/plain"
    assert attachment.get_content_disposition() == "attachment"
    filename = attachment.get_filename()
    assert filename
    assert filename.endswith(".txt")
    assert CAMPAIGN in filename
    assert locale in filename
    assert ui_string("desk_footer", locale) in body_text(message, "plain")


@pytest.mark.parametrize("locale", LOCALES)
def test_press_desk_radio_attachment_reads_as_the_radio_script(out: Path, locale: str) -> None:
    message = parse_mail(read(out, locale, "press-desk-email.eml"))
    (_pdf, attachment) = message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    # Without a charset parameter a text/plain part is US-ASCII (RFC 2046 4.1.2), and mail
    # clients show the Vietnamese script as mojibake.
    assert attachment.get_content_charset() == "utf-8"
    radio = read(out, locale, "radio.txt").decode("utf-8")
    # text/* parts travel with CRLF line ends (RFC 2046); the words are what matter.
    assert attachment.get_content().replace("\r\n", "\n") == radio


def test_press_desk_email_is_addressed_to_every_desk_recipient(out: Path) -> None:
    config = yaml.safe_load((ROOT / "channels" / "press-desk.yaml").read_text(encoding="utf-8"))
    expected = [parseaddr(r)[1] for r in config["recipients"]]
    assert len(expected) >= 2
    for locale in LOCALES:
        data = read(out, locale, "press-desk-email.eml")
        to = parse_mail(data)["To"]
        received = [address.addr_spec for address in to.addresses]
        assert received == expected, (locale, raw_header(data, "To"))


# --- feed entry ----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_feed_entry_xml_has_rss_item_and_atom_entry_with_one_id(out: Path, locale: str) -> None:
    root = etree.fromstring(read(out, locale, "feed-entry.xml"))
    title = front_matter(locale)["title"]

    item = root.find("item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None
    assert guid.get("isPermaLink") == "false"
    assert guid.text
    assert item.findtext("title") == title
    assert item.findtext("link") == page_url(locale)

    entry = root.find(f"{{{ATOM}}}entry")
    assert entry is not None
    assert entry.findtext(f"{{{ATOM}}}id") == guid.text
    assert entry.findtext(f"{{{ATOM}}}title") == title
    links = [link.get("href") for link in entry.findall(f"{{{ATOM}}}link")]
    assert page_url(locale) in links
    content = entry.find(f"{{{ATOM}}}content")
    assert content is not None
    assert content.text


@pytest.mark.parametrize("locale", LOCALES)
def test_feed_entry_json_is_a_json_feed_item(out: Path, locale: str) -> None:
    item = json.loads(read(out, locale, "feed-entry.json"))
    xml = etree.fromstring(read(out, locale, "feed-entry.xml"))
    assert item["id"] == xml.findtext("item/guid")
    assert item["url"] == page_url(locale)
    assert item["title"] == front_matter(locale)["title"]
    assert item["summary"] == front_matter(locale)["summary"]
    assert isinstance(item["content_html"], str)
    fragment = lxml.html.fragment_fromstring(item["content_html"], create_parent="div")
    assert find_all(fragment, "h2")
    assert item["language"] == locale


# --- webhook event -------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_webhook_event_carries_title_and_radio_script(out: Path, locale: str) -> None:
    raw = read(out, locale, "webhook.json")
    event: dict[str, Any] = json.loads(raw.decode("utf-8"))
    assert event["type"] == "publication.created"
    data = event["data"]
    assert data["title"] == front_matter(locale)["title"]
    assert data["summary"] == front_matter(locale)["summary"]
    assert data["locale"] == locale
    assert data["url"] == page_url(locale)
    assert data["alternates"] == {loc: page_url(loc) for loc in LOCALES}
    assert data["radio"]["script"] == read(out, locale, "radio.txt").decode("utf-8")
    assert data["radio"]["reading_time"] in data["radio"]["script"]
    if locale == "vi":
        # Written as UTF-8, not as \\u escapes a partner would have to decode.
        assert front_matter("vi")["title"].encode() in raw


# --- web page ------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "other"), [("vi", "en"), ("en", "vi")])
def test_page_html(out: Path, locale: str, other: str) -> None:
    page = parse_html(read(out, locale, "page.html"))
    assert page.get("lang") == locale
    assert texts(page, "//h1") == [front_matter(locale)["title"]]

    alternates = {
        link.get("hreflang"): link.get("href")
        for link in find_all(page, "//head/link[@rel='alternate'][@hreflang]")
    }
    assert alternates["vi"] == page_url("vi")
    assert alternates["en"] == page_url("en")

    switch = find_all(page, f"//nav//a[@hreflang='{other}']")
    assert len(switch) == 1
    assert switch[0].get("href") == page_url(other)
    assert switch[0].get("lang") == other
    current = find_all(page, "//nav//a[@aria-current='page']")
    assert [a.get("href") for a in current] == [page_url(locale)]

    assert find_all(page, "//script[@src]") == []
    assert find_all(page, "//link[contains(concat(' ', @rel, ' '), ' stylesheet ')]") == []
    assert find_all(page, "//*[contains(@style, 'url(')]") == []
    assert ui_string("fallback_notice", locale) not in page.text_content()


# --- radio script --------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_radio_script_is_plain_speakable_text(out: Path, locale: str) -> None:
    radio = read(out, locale, "radio.txt").decode("utf-8")
    assert unicodedata.is_normalized("NFC", radio)
    lines = radio.splitlines()
    duration = [line for line in lines if line.startswith(ui_string("radio_duration", locale))]
    assert len(duration) == 1
    assert re.search(r":\s*\d+\s+\w+", duration[0]), duration[0]
    for syntax in ("**", "##", "|---", "{{", "](", "<http"):
        assert syntax not in radio, syntax
    assert front_matter(locale)["title"].rstrip(".") in radio


def test_radio_script_expands_abbreviations(out: Path) -> None:
    radio = read(out, "vi", "radio.txt").decode("utf-8")
    assert "UBND" in front_matter("vi")["summary"]
    assert "Ủy ban nhân dân tỉnh Khánh Hòa" in radio
    # The document number is read exactly as written; nowhere else does UBND remain.
    assert "UBND" not in radio.replace("6176/UBND-KSTT", "")


# --- console output and errors -------------------------------------------------------------


def test_preview_without_out_prints_a_summary_of_every_channel_and_locale() -> None:
    result = run_cli("preview", CAMPAIGN)
    assert result.returncode == 0, result.stderr
    channels = sorted(p.stem for p in (ROOT / "channels").glob("*.yaml"))
    assert len(channels) == 5
    for locale in LOCALES:
        for channel in channels:
            assert re.search(rf"^\s*\[{locale}\] {channel}: \S", result.stdout, re.MULTILINE), (
                locale,
                channel,
            )
    assert front_matter("vi")["title"] in result.stdout
    assert front_matter("en")["title"] in result.stdout


def test_preview_one_channel_and_locale_writes_only_that_page(tmp_path: Path) -> None:
    result = run_cli(
        "preview", CAMPAIGN, "--channel", "website", "--locale", "en", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    written = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert written == ["en/page.html"]
    page = parse_html((tmp_path / "en" / "page.html").read_bytes())
    assert page.get("lang") == "en"


def test_unknown_campaign_exits_2_naming_the_campaigns_there_are(tmp_path: Path) -> None:
    result = run_cli("preview", "no-such-campaign", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no-such-campaign" in result.stderr
    for folder in (ROOT / "campaigns").iterdir():
        if folder.is_dir():
            assert folder.name in result.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_channel_exits_2_naming_the_channels_there_are(tmp_path: Path) -> None:
    result = run_cli("preview", CAMPAIGN, "--channel", "fax", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "'fax'" in result.stderr
    for path in (ROOT / "channels").glob("*.yaml"):
        assert path.stem in result.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_locale_gets_the_vietnamese_text_with_a_notice(tmp_path: Path) -> None:
    result = run_cli("preview", CAMPAIGN, "--locale", "fr", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    notice = ui_string("fallback_notice", "fr")
    assert "\n" not in notice
    title = front_matter("vi")["title"]

    page = parse_html((tmp_path / "fr" / "page.html").read_bytes())
    assert page.get("lang") == "vi"
    assert texts(page, "//h1") == [title]
    notices = [p for p in find_all(page, "//p") if notice in p.text_content()]
    assert len(notices) == 1
    assert notices[0].text_content().strip() == notice

    message = parse_mail((tmp_path / "fr" / "email.eml").read_bytes())
    plain = body_text(message, "plain")
    assert plain.splitlines()[0] == notice
    assert plain.count(notice) == 1
    html = parse_html(body_text(message, "html"))
    assert texts(html, "//h1") == [title]
    assert html.text_content().count(notice) == 1

    event = json.loads((tmp_path / "fr" / "webhook.json").read_bytes())
    assert event["data"]["title"] == title
    assert event["data"]["locale"] == "vi"
    assert event["data"]["requested_locale"] == "fr"
