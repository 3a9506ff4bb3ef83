"""The press room: releases the press desk sent, by date, each with its official date
line, the release to download, its files, the radio script, the audio and the contact."""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pytest_aiohttp import AiohttpClient

from broadcaster.outbox.tables import PublicationSource
from broadcaster.service import make_app
from broadcaster.text.dateline import date_line
from broadcaster.web.keys import PUBLISHER
from tests.html import parse_html
from tests.web.conftest import BASE_URL, settings_for

PRESS = """
press:
  place: {vi: Khánh Hòa, en: Khanh Hoa}
  contact:
    name: {vi: Bộ phận báo chí mẫu (ví dụ), en: Sample press office (example)}
    phone: 0258 000 0099
    email: baochi@example.gov.vn
"""


@pytest.mark.parametrize(
    ("day", "locale", "line"),
    [
        (date(2021, 7, 9), "vi", "Khánh Hòa, ngày 09 tháng 7 năm 2021"),
        (date(2022, 1, 15), "vi", "Khánh Hòa, ngày 15 tháng 01 năm 2022"),
        (date(2021, 12, 31), "vi", "Khánh Hòa, ngày 31 tháng 12 năm 2021"),
        (date(2021, 7, 9), "en", "Khanh Hoa, 9 July 2021"),
    ],
)
def test_the_official_date_line(day: date, locale: str, line: str) -> None:
    place = "Khánh Hòa" if locale == "vi" else "Khanh Hoa"
    assert date_line(place, day, locale) == line


@pytest.fixture
def press_workspace(workspace: Path) -> Path:
    with (workspace / "workspace.yaml").open("a", encoding="utf-8") as out:
        out.write(PRESS)
    (workspace / "channels" / "radio.yaml").write_text(
        "type: radio\ntitle: {vi: Bản tin phát thanh, en: Radio bulletins}\n", encoding="utf-8"
    )
    return workspace


async def test_a_journalist_finds_a_release_and_everything_that_goes_with_it(
    press_workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(settings_for(press_workspace)))
    empty = parse_html(await (await client.get("/vi/press/")).text())
    assert "Chưa có thông cáo báo chí nào." in empty.text_content()

    assert client.app is not None
    await client.app[PUBLISHER].publish(
        "online-submission", ["press-desk", "website"], source=PublicationSource.CLI
    )
    response = await client.get("/vi/press/")
    assert response.status == 200
    page = parse_html(await response.text())
    assert page.xpath("string(//h1)") == "Phòng báo chí"
    contact = page.xpath("string(//section[@class='contact'])")
    assert "Bộ phận báo chí mẫu (ví dụ)" in contact
    assert "0258 000 0099" in contact
    assert "baochi@example.gov.vn" in contact

    (release,) = page.xpath("//li[contains(@class, 'release')]")
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    assert release.xpath("string(.//p[contains(@class, 'dateline')])") == date_line(
        "Khánh Hòa", today, "vi"
    )
    assert release.xpath("string(.//h2)") == (
        "Nộp hồ sơ và thanh toán trực tuyến, hạn chế đi lại trong mùa dịch COVID-19"
    )
    links = {a.text_content(): a.get("href") for a in release.xpath(".//a")}
    assert links["6176-UBND-KSTT.pdf"] == f"{BASE_URL}/files/online-submission/6176-UBND-KSTT.pdf"
    assert links["Bản tin âm thanh (MP3)"].startswith(f"{BASE_URL}/bulletins/vi/online-submission-")

    eml = await client.get(
        "/vi/press/" + links["Tải thông cáo (tệp .eml, mở bằng mọi chương trình thư)"]
    )
    assert eml.status == 200
    assert eml.headers["Content-Disposition"] == 'attachment; filename="online-submission-vi.eml"'
    message = email.message_from_bytes(await eml.read(), policy=email.policy.default)
    assert message["To"] is None  # the newsrooms' addresses stay private
    assert "Nộp hồ sơ" in str(message["Subject"])
    attached = [part.get_filename() for part in message.iter_attachments()]
    assert "6176-UBND-KSTT.pdf" in attached

    script = await client.get("/vi/press/" + links["Kịch bản đọc trên sóng phát thanh"])
    assert "- Cổng Dịch vụ công Quốc gia: dichvucong chấm gov chấm vn." in await script.text()

    english = parse_html(await (await client.get("/en/press/")).text())
    assert english.xpath("string(//p[contains(@class, 'dateline')])") == date_line(
        "Khanh Hoa", today, "en"
    )
    assert "Sample press office (example)" in english.text_content()
    en_eml = await client.get(
        "/en/press/" + links["Tải thông cáo (tệp .eml, mở bằng mọi chương trình thư)"]
    )
    assert en_eml.status == 200

    assert (await client.get("/fr/press/")).status == 404
    assert (await client.get("/vi/press/999.eml")).status == 404
