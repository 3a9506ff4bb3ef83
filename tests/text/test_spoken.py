"""The radio script: text as a presenter reads it aloud, and how long that takes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.text.spoken import format_duration, reading_time, speakable
from broadcaster.workspace.models import LocaleSpeech

VI = LocaleSpeech(
    words_per_minute=160,
    abbreviations={
        "UBND": "Ủy ban nhân dân",
        "TP.": "thành phố",
        "TP": "thành phố",
        "TP.HCM": "Thành phố Hồ Chí Minh",
        "CCCD": "căn cước công dân",
        "Q.": "quận",
        "Đ/c": "địa chỉ",
        "ĐT": "điện thoại",
    },
    domains={
        "dichvucong.gov.vn": "Cổng Dịch vụ công quốc gia",
        "www.khanhhoa.gov.vn": "Cổng thông tin tỉnh Khánh Hòa",
        "baokhanhhoa.vn": "Báo Khánh Hòa",
    },
)
EN = LocaleSpeech(
    words_per_minute=150,
    abbreviations={"ID": "identity card", "St.": "Street", "Dept.": "Department"},
    domains={"dichvucong.gov.vn": "the National Public Service Portal"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Gọi 0258 000 0001.",
            "Gọi không hai năm tám, không không không, không không không một.",
        ),
        ("0258.3822.247", "không hai năm tám, ba tám hai hai, hai bốn bảy"),
        (
            "+84 258 000 0001",
            "cộng tám tư, hai năm tám, không không không, không không không một",
        ),
        ("Tổng đài 1900 1234", "Tổng đài một chín không không, một hai ba bốn"),
        (
            "ĐT: (0258) 000 0001",
            "điện thoại: không hai năm tám, không không không, không không không một",
        ),
        # Unseparated or unevenly written numbers are re-grouped into 2 to 4 digits.
        ("0905123456", "không chín không năm, một hai ba, bốn năm sáu"),
        ("+84905123456", "cộng tám tư, chín không năm, một hai ba, bốn năm sáu"),
        ("0258 3822247", "không hai năm tám, ba tám hai hai, hai bốn bảy"),
        ("0258-3822-247", "không hai năm tám, ba tám hai hai, hai bốn bảy"),
    ],
)
def test_vietnamese_phone_numbers_are_read_digit_by_digit(text: str, expected: str) -> None:
    assert speakable(text, VI, "vi") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Call +84 258 000 0001.",
            "Call plus eight four, two five eight, zero zero zero, zero zero zero one.",
        ),
        ("Hotline 1900 1234", "Hotline one nine zero zero, one two three four"),
        ("+1 202 555 0100", "plus one, two zero two, five five five, zero one zero zero"),
    ],
)
def test_english_phone_numbers(text: str, expected: str) -> None:
    assert speakable(text, EN, "en") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ngày 32/13/2021",
        "Năm 2021 và 2022",
        "Làm việc 07.30-11.30, chiều 13:30",
        "Giai đoạn 1900-1950",
        "Mức phạt 10.000.000 đồng",
        "Gọi 113 hoặc 0258 000",
        "Tài khoản 0123 4567 8901 2345",
    ],
)
def test_dates_document_numbers_years_and_amounts_are_not_phone_numbers(text: str) -> None:
    assert speakable(text, VI, "vi") == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Thực hiện từ ngày 09/7/2021.",
            "Thực hiện từ ngày chín tháng bảy năm hai nghìn không trăm hai mươi mốt.",
        ),
        (
            "Hiệu lực từ 09.07.2021 đến 31-12-2021.",
            "Hiệu lực từ ngày chín tháng bảy năm hai nghìn không trăm hai mươi mốt"
            " đến ngày ba mươi mốt tháng mười hai năm hai nghìn không trăm hai mươi mốt.",
        ),
        (
            "Ngày 14 tháng 4 năm 2005",
            "Ngày mười bốn tháng tư năm hai nghìn không trăm lẻ năm",
        ),
        (
            "Công văn 6176/UBND-KSTT",
            "Công văn số sáu nghìn một trăm bảy mươi sáu, gạch chéo, U-B-N-D, gạch ngang, K-S-T-T",
        ),
        (
            "Văn bản số 6176/UBND-KSTT",
            "Văn bản số sáu nghìn một trăm bảy mươi sáu, gạch chéo, U-B-N-D, gạch ngang, K-S-T-T",
        ),
        (
            "Nghị định 01/2021/NĐ-CP",
            "Nghị định số không một, gạch chéo, hai nghìn không trăm hai mươi mốt, gạch chéo,"
            " N-Đ, gạch ngang, C-P",
        ),
        (
            "Quyết định 0123 4567/QĐ-UBND",
            "Quyết định 0123 số bốn nghìn năm trăm sáu mươi bảy, gạch chéo, Q-Đ, gạch ngang,"
            " U-B-N-D",
        ),
    ],
)
def test_dates_and_document_numbers_are_read_in_words(text: str, expected: str) -> None:
    assert speakable(text, VI, "vi") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("of 9 July 2021 from", "of the ninth of July twenty twenty-one from"),
        ("on July 21, 2021.", "on the twenty-first of July twenty twenty-one."),
        ("from 09/07/2021", "from the ninth of July twenty twenty-one"),
        (
            "Document No. 6176/UBND-KSTT",
            "Document number six thousand one hundred and seventy-six, slash, U-B-N-D, dash,"
            " K-S-T-T",
        ),
        (
            "Decree 01/2021/NĐ-CP",
            "Decree number zero one, slash, two thousand and twenty-one, slash, N-Đ, dash, C-P",
        ),
    ],
)
def test_english_dates_and_document_numbers(text: str, expected: str) -> None:
    speech = LocaleSpeech(150, {"No.": "number"}, {})
    assert speakable(text, speech, "en") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UBND tỉnh", "Ủy ban nhân dân tỉnh"),
        ("Mang CCCD.", "Mang căn cước công dân."),
        ("UBND TP. Nha Trang", "Ủy ban nhân dân thành phố Nha Trang"),
        ("TP Nha Trang", "thành phố Nha Trang"),
        ("tại TP.HCM", "tại Thành phố Hồ Chí Minh"),
        ("Q.1 và Q. 3", "quận 1 và quận 3"),
        ("Đ/c: 01 Trần Phú", "địa chỉ: 01 Trần Phú"),
        # Whole words only, with Vietnamese letters counting as letters; case-sensitive.
        ("UBNDx, xUBND, ĐTĐ, ubnd, TPHCM", "UBNDx, xUBND, ĐTĐ, ubnd, TPHCM"),
        ("ĐTư", "ĐTư"),
        (
            "Công văn 6176/UBND-KSTT của UBND",
            "Công văn số sáu nghìn một trăm bảy mươi sáu, gạch chéo, U-B-N-D, gạch ngang,"
            " K-S-T-T của Ủy ban nhân dân",
        ),
    ],
)
def test_abbreviations_are_expanded_as_whole_words(text: str, expected: str) -> None:
    assert speakable(text, VI, "vi") == expected


def test_english_abbreviations() -> None:
    text = "Bring your ID to the Dept. office on Tran Phu St. today."
    assert speakable(text, EN, "en") == (
        "Bring your identity card to the Department office on Tran Phu Street today."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Nộp tại https://dichvucong.gov.vn/p/home/dvc-trang-chu.html.",
            "Nộp tại Cổng Dịch vụ công quốc gia tại địa chỉ dichvucong chấm gov chấm vn.",
        ),
        (
            "Xem www.khanhhoa.gov.vn.",
            "Xem Cổng thông tin tỉnh Khánh Hòa tại địa chỉ khanhhoa chấm gov chấm vn.",
        ),
        (
            "(https://www.khanhhoa.gov.vn/)",
            "(Cổng thông tin tỉnh Khánh Hòa tại địa chỉ khanhhoa chấm gov chấm vn)",
        ),
        (
            "Theo baokhanhhoa.vn, hôm nay",
            "Theo Báo Khánh Hòa tại địa chỉ baokhanhhoa chấm vn, hôm nay",
        ),
        # A name the text has just said is not said again: only the address follows it.
        (
            "- Cổng Dịch vụ công quốc gia: https://dichvucong.gov.vn.",
            "- Cổng Dịch vụ công quốc gia: dichvucong chấm gov chấm vn.",
        ),
        ("Tra cứu congan.khanhhoa.gov.vn/tra-cuu", "Tra cứu congan chấm khanhhoa chấm gov chấm vn"),
        ("Mở https://www.example.com:8080/a?b=c", "Mở example chấm com"),
        ("Trang www.so-tu-phap.vn", "Trang so gạch ngang tu gạch ngang phap chấm vn"),
        (
            "Thư gửi hotro@dichvucong.gov.vn.",
            "Thư gửi hotro a còng dichvucong chấm gov chấm vn.",
        ),
        (
            "nguyen.van_a@mail.khanhhoa.gov.vn",
            "nguyen chấm van gạch dưới a a còng mail chấm khanhhoa chấm gov chấm vn",
        ),
        # Only http(s), www. and .gov.vn hosts are addresses; other dotted words stay.
        ("Tệp hoso.pdf", "Tệp hoso.pdf"),
    ],
)
def test_addresses_are_spoken_as_listeners_type_them(text: str, expected: str) -> None:
    assert speakable(text, VI, "vi") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thủ tục hành chính (TTHC)", "thủ tục hành chính"),
        (
            "Nộp qua Cổng Dịch vụ công quốc gia\n   (https://dichvucong.gov.vn) để",
            "Nộp qua Cổng Dịch vụ công quốc gia\n   (dichvucong chấm gov chấm vn) để",
        ),
        ("căn cước\ncông dân (CCCD)", "căn cước\ncông dân"),
        ("cổng (CCCD)", "cổng (căn cước công dân)"),
    ],
)
def test_a_name_followed_by_its_own_abbreviation_or_address_is_read_once(
    text: str, expected: str
) -> None:
    speech = LocaleSpeech(160, {**VI.abbreviations, "TTHC": "thủ tục hành chính"}, VI.domains)
    assert speakable(text, speech, "vi") == expected


def test_english_addresses() -> None:
    text = "See https://dichvucong.gov.vn or write to help@example.gov.vn."
    assert speakable(text, EN, "en") == (
        "See the National Public Service Portal at dichvucong dot gov dot vn or write to help"
        " at example dot gov dot vn."
    )


def test_the_glossary_can_say_an_address_its_own_way() -> None:
    speech = LocaleSpeech(150, {}, {}, {"www.khanhhoa.gov.vn": "khánh hòa chấm gov chấm vn"})
    assert speakable("Xem https://khanhhoa.gov.vn/tin", speech, "vi") == (
        "Xem khánh hòa chấm gov chấm vn"
    )


def test_unknown_locale_falls_back_to_english_words() -> None:
    assert speakable("+84 258 000 0001", VI, "fr") == (
        "plus eight four, two five eight, zero zero zero, zero zero zero one"
    )


def test_rest_of_the_text_is_kept_intact() -> None:
    text = "Người dân *lưu ý*: mang theo bản chính!\n\nHết hạn lúc 17:00."
    assert speakable(text, VI, "vi") == text


@pytest.mark.parametrize(
    ("text", "words_per_minute", "seconds"),
    [
        ("", 160, 5),
        ("Một hai ba.", 160, 5),
        (" ".join(["chữ"] * 160), 160, 60),
        (" ".join(["chữ"] * 161), 160, 65),
        # Dashes and bullets are not words; numbers are.
        ("- — • 2021 x", 6, 20),
    ],
)
def test_reading_time(text: str, words_per_minute: int, seconds: int) -> None:
    assert reading_time(text, words_per_minute) == seconds


@pytest.mark.parametrize(
    ("seconds", "vi", "en"),
    [
        (0, "0 giây", "0 seconds"),
        (1, "1 giây", "1 second"),
        (45, "45 giây", "45 seconds"),
        (60, "1 phút", "1 minute"),
        (80, "1 phút 20 giây", "1 minute 20 seconds"),
        (120, "2 phút", "2 minutes"),
        (3725, "1 giờ 2 phút 5 giây", "1 hour 2 minutes 5 seconds"),
    ],
)
def test_format_duration(seconds: int, vi: str, en: str) -> None:
    assert format_duration(seconds, "vi") == vi
    assert format_duration(seconds, "en") == en
    assert format_duration(seconds, "vi-VN") == vi


_FRAGMENTS = st.sampled_from(
    [
        "0258 000 0001", "+84", "(0258) ", "1900", ".", "-", "/", " ", "09/7/2021", "UBND",
        "TP.", "Q.", "https://", "http://[::1", "www.", ".gov.vn", "@", "dichvucong.gov.vn",
        "o\u0301", "\u0323", "Đ", "\n",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=20).map("".join),
    st.sampled_from(["vi", "en", "fr"]),
)
def test_speakable_never_raises_and_returns_nfc(text: str, locale: str) -> None:
    assert unicodedata.is_normalized("NFC", speakable(text, VI, locale))
