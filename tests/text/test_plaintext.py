"""Plain-text rendering of campaign Markdown, as citizens see it in an email's text part."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.text.plaintext import markdown_to_text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# Thông báo", "Thông báo\n=========\n"),
        ("## Các bước thực hiện", "Các bước thực hiện\n------------------\n"),
        ("### Lệ phí", "Lệ phí\n"),
        ("#### *Ghi chú*", "Ghi chú\n"),
        ("Hồ sơ cần nộp\n=============", "Hồ sơ cần nộp\n=============\n"),
        ("#", ""),
    ],
)
def test_headings(source: str, expected: str) -> None:
    assert markdown_to_text(source) == expected


def test_blocks_are_separated_by_one_blank_line() -> None:
    source = "# Thông báo\n\n\n\nĐoạn một.\n\n\n\nĐoạn hai.\n\n---\n\nHết."
    assert markdown_to_text(source) == (
        "Thông báo\n=========\n\nĐoạn một.\n\nĐoạn hai.\n\n" + "-" * 72 + "\n\nHết.\n"
    )


@pytest.mark.parametrize(("source", "expected"), [("", ""), ("  \n\n ", ""), ("Một", "Một\n")])
def test_output_ends_with_exactly_one_newline(source: str, expected: str) -> None:
    assert markdown_to_text(source) == expected


def test_paragraphs_wrap_at_width() -> None:
    source = (
        "Người dân có thể nộp hồ sơ trực tuyến, thanh toán lệ phí và nhận kết quả "
        "tại nhà mà không cần đến trụ sở cơ quan nhà nước."
    )
    assert markdown_to_text(source, width=40) == (
        "Người dân có thể nộp hồ sơ trực tuyến,\n"
        "thanh toán lệ phí và nhận kết quả tại\n"
        "nhà mà không cần đến trụ sở cơ quan nhà\n"
        "nước.\n"
    )


def test_wrapping_never_breaks_a_url() -> None:
    source = (
        "Nộp hồ sơ tại https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html"
        " trước ngày 30."
    )
    assert markdown_to_text(source, width=30) == (
        "Nộp hồ sơ tại\n"
        "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html\n"
        "trước ngày 30.\n"
    )


def test_no_wrapping_when_width_is_none() -> None:
    source = "Dòng một của đoạn văn\nvẫn cùng đoạn, " + "rất dài " * 20
    expected = "Dòng một của đoạn văn vẫn cùng đoạn, " + ("rất dài " * 20).rstrip() + "\n"
    assert markdown_to_text(source, width=None) == expected


def test_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="width must be a positive number"):
        markdown_to_text("x", width=0)


def test_nested_lists_indent_and_hang_wrapped_lines() -> None:
    source = (
        "1. Đăng nhập Cổng Dịch vụ công bằng tài khoản định danh điện tử mức độ 2.\n"
        "2. Chuẩn bị hồ sơ:\n"
        "   - tờ khai theo mẫu, có chữ ký của người đề nghị cấp hoặc người đại diện;\n"
        "   - bản sao giấy khai sinh.\n"
        "3. Thanh toán lệ phí.\n"
    )
    assert markdown_to_text(source, width=50) == (
        "1. Đăng nhập Cổng Dịch vụ công bằng tài khoản định\n"
        "   danh điện tử mức độ 2.\n"
        "2. Chuẩn bị hồ sơ:\n"
        "   - tờ khai theo mẫu, có chữ ký của người đề nghị\n"
        "     cấp hoặc người đại diện;\n"
        "   - bản sao giấy khai sinh.\n"
        "3. Thanh toán lệ phí.\n"
    )


def test_ordered_list_keeps_its_start_number() -> None:
    assert markdown_to_text("3. ba\n4. bốn\n") == "3. ba\n4. bốn\n"


def test_loose_list_items_are_separated_by_blank_lines() -> None:
    source = "- Bước một.\n\n- Bước hai.\n\n  Ghi chú cho bước hai.\n"
    assert markdown_to_text(source) == ("- Bước một.\n\n- Bước hai.\n\n  Ghi chú cho bước hai.\n")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "Xem [Cổng Dịch vụ công](https://dichvucong.gov.vn/p/home.html).",
            "Xem Cổng Dịch vụ công (https://dichvucong.gov.vn/p/home.html).",
        ),
        ("<https://dichvucong.gov.vn>", "https://dichvucong.gov.vn"),
        ("[dichvucong.gov.vn](https://dichvucong.gov.vn/)", "dichvucong.gov.vn"),
        ("Thư: <hotro@khanhhoa.gov.vn>", "Thư: hotro@khanhhoa.gov.vn"),
        ("[Gửi thư](mailto:hotro@khanhhoa.gov.vn?subject=H%E1%BB%8Fi)", "hotro@khanhhoa.gov.vn"),
        ("<https://bộ.vn/thủ-tục>", "https://bộ.vn/thủ-tục"),
        ("[Tra cứu](https://bộ.vn/thủ-tục)", "Tra cứu (https://bộ.vn/thủ-tục)"),
        ("[mục 2](#muc-2)", "mục 2"),
        ("[Hình](https://x.vn/a%20b)", "Hình (https://x.vn/a%20b)"),
    ],
)
def test_links(source: str, expected: str) -> None:
    assert markdown_to_text(source, width=None) == expected + "\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Chạy `broadcaster  publish` ngay.", "Chạy broadcaster  publish ngay."),
        ("Mang **bản chính** và *bản sao*.", "Mang bản chính và bản sao."),
        ("Dòng một  \nDòng hai\\\nDòng ba", "Dòng một\nDòng hai\nDòng ba"),
        ("Tôm &amp; cá \\*không\\* giảm giá", "Tôm & cá *không* giảm giá"),
        ("![Sơ đồ trụ sở](so-do.png)", "Sơ đồ trụ sở"),
    ],
)
def test_inline_markup(source: str, expected: str) -> None:
    assert markdown_to_text(source) == expected + "\n"


def test_blockquotes_prefix_every_line() -> None:
    source = "> **Lưu ý:** mang theo giấy tờ gốc khi nhận kết quả.\n>\n> - CCCD\n> - Giấy hẹn\n"
    assert markdown_to_text(source, width=30) == (
        "> Lưu ý: mang theo giấy tờ gốc\n> khi nhận kết quả.\n>\n> - CCCD\n> - Giấy hẹn\n"
    )


def test_code_blocks_are_indented_verbatim() -> None:
    source = "Cú pháp:\n\n```\nDK CCCD <số định danh>\n\n  Gửi 1900 1234\n```\n"
    assert markdown_to_text(source) == (
        "Cú pháp:\n\n    DK CCCD <số định danh>\n\n      Gửi 1900 1234\n"
    )


def test_table_with_vietnamese_headers_is_aligned() -> None:
    source = (
        "| Thủ tục | Lệ phí | Thời hạn |\n"
        "|:--|--:|:-:|\n"
        "| Cấp đổi thẻ căn cước | 30.000 đồng | 7 ngày |\n"
        "| Đăng ký khai sinh | Miễn phí | 1 ngày |\n"
    )
    assert markdown_to_text(source) == (
        "Thủ tục                    Lệ phí  Thời hạn\n"
        "--------------------  -----------  --------\n"
        "Cấp đổi thẻ căn cước  30.000 đồng   7 ngày\n"
        "Đăng ký khai sinh        Miễn phí   1 ngày\n"
    )


def test_table_columns_account_for_wide_and_combining_characters() -> None:
    # "Ho\u0300a" becomes precomposed "Hòa"; "x\u0301" has no precomposed form and stays
    # two code points in one column; each CJK character takes two columns.
    source = (
        "| Tên | Ghi chú | Số |\n|---|---|--:|\n| 東京 | x\u0301 | 1 |\n| Huế | Ho\u0300a | 22 |\n"
    )
    assert markdown_to_text(source) == (
        "Tên   Ghi chú  Số\n----  -------  --\n東京  x\u0301         1\nHuế   Hòa      22\n"
    )


def test_output_is_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "# Khánh Hòa\n\nThủ tục hành chính")
    assert markdown_to_text(decomposed) == "Khánh Hòa\n=========\n\nThủ tục hành chính\n"


_FRAGMENTS = st.sampled_from(
    [
        "# ", "## ", "- ", "1. ", "> ", "    ", "```\n", "---\n", "| a | b |\n|---|:-:|\n",
        "| ô | 東 |\n", "[x](", "](https://x.vn/é)", "<", ">", "mailto:", "@", "`", "*", "\\",
        "  \n", "\n", "\n\n", " ", "Đăng ký", "o\u0301", "\u200b", "\t",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=30).map("".join),
    st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
)
def test_never_raises_and_returns_nfc(source: str, width: int | None) -> None:
    text = markdown_to_text(source, width=width)
    assert unicodedata.is_normalized("NFC", text)
    assert text == "" or (text.endswith("\n") and not text.endswith("\n\n"))


def test_table_rows_reads_each_row_as_one_sentence() -> None:
    source = "| Đầu mối | Điện thoại |\n|---|---|\n| Mẫu 1 | 0258 000 0001 |\n| Mẫu 2 |  |\n"
    assert markdown_to_text(source, width=None, table_rows=True) == (
        "Đầu mối: Mẫu 1; Điện thoại: 0258 000 0001.\nĐầu mối: Mẫu 2.\n"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[0258 000 0001](tel:+842580000001)", "0258 000 0001 (+842580000001)\n"),
        ("[0258 000 0001](tel:02580000001)", "0258 000 0001\n"),
        ("[Gọi đường dây nóng](tel:19000000)", "Gọi đường dây nóng (19000000)\n"),
    ],
)
def test_tel_links_show_the_number_once(source: str, expected: str) -> None:
    assert markdown_to_text(source) == expected
