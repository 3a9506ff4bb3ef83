"""The radio scripts of the example campaigns say addresses, dates and document numbers
exactly as a presenter (or a speech engine) should read them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from broadcaster.settings import Settings
from broadcaster.text.radio_script import read_aloud
from broadcaster.text.render import Publication, Templates
from broadcaster.workspace.load import load_workspace

PUBLISHED_AT = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
DIRECTIVE_VI = (
    "Thực hiện Văn bản số sáu nghìn một trăm bảy mươi sáu, gạch chéo, U-B-N-D, gạch ngang,"
    " K-S-T-T ngày chín tháng bảy năm hai nghìn không trăm hai mươi mốt của Ủy ban nhân dân"
    " tỉnh Khánh Hòa,"
)
DIRECTIVE_EN = (
    "Under Document number six thousand one hundred and seventy-six, slash, U-B-N-D, dash,"
    " K-S-T-T of the ninth of July twenty twenty-one from the Khanh Hoa Provincial People's"
    " Committee,"
)


def script(workspace: Path, campaign: str, locale: str) -> str:
    settings = Settings.from_environ(workspace, environ={})
    loaded, diag = load_workspace(workspace, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert loaded is not None, [str(problem) for problem in diag.errors]
    publication = Publication.prepare(
        loaded, loaded.campaigns[campaign], "https://thongbao.example.gov.vn", PUBLISHED_AT
    )
    return read_aloud(publication, locale, Templates(workspace / "templates")).text


@pytest.mark.parametrize(
    "campaign",
    ["online-submission", "commune-support-points", "one-stop-covid-measures", "support-contacts"],
)
def test_every_example_campaign_reads_the_directive_in_words(
    workspace: Path, campaign: str
) -> None:
    assert DIRECTIVE_VI in script(workspace, campaign, "vi")
    assert DIRECTIVE_EN in script(workspace, campaign, "en")


def test_portals_are_named_once_and_their_addresses_spoken_as_typed(workspace: Path) -> None:
    vi = script(workspace, "online-submission", "vi").splitlines()
    assert (
        "- Trung tâm Dịch vụ hành chính công trực tuyến tỉnh: dichvucong chấm example chấm gov"
        " chấm vn (địa chỉ ví dụ, sẽ được thay bằng địa chỉ chính thức)."
    ) in vi
    assert "- Cổng Dịch vụ công Quốc gia: dichvucong chấm gov chấm vn." in vi
    en = script(workspace, "online-submission", "en").splitlines()
    assert (
        "- National Public Service Portal (Cổng Dịch vụ công Quốc gia): dichvucong dot gov dot vn."
    ) in en
    assert not any("Cổng Dịch vụ công Quốc gia: Cổng" in line for line in vi)


def test_an_address_in_a_sentence_keeps_its_name_and_adds_the_address(workspace: Path) -> None:
    vi = script(workspace, "one-stop-covid-measures", "vi")
    assert (
        "qua Trung tâm Dịch vụ hành chính công trực tuyến tỉnh hoặc Cổng Dịch vụ công Quốc gia"
        " (dichvucong chấm gov chấm vn) để không phải đi lại"
    ) in vi
    en = script(workspace, "support-contacts", "en")
    assert "the National Public Service Portal (dichvucong dot gov dot vn)." in en
