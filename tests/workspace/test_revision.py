"""A campaign's revision: a stable hash of its files that approvals bind to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from broadcaster.workspace.revision import revision_of
from tests.conftest import FIXTURE

CLI = Path(sys.executable).parent / "broadcaster"

CAMPAIGN_YAML = """\
topics: [online-services]
priority: normal
valid_from: 2021-07-09T00:00:00+07:00
issuer: {vi: UBND tỉnh Khánh Hòa, en: Khanh Hoa Provincial People's Committee}
reference: 6176/UBND-KSTT
"""
VI_MD = """\
---
title: Nộp hồ sơ trực tuyến
summary: UBND tỉnh Khánh Hòa khuyến khích người dân nộp hồ sơ trực tuyến.
---
## Nộp hồ sơ ở đâu

Truy cập Cổng Dịch vụ công Quốc gia, đăng ký tài khoản rồi đăng nhập.
"""
EN_MD = """\
---
title: Apply online
summary: The Khanh Hoa Provincial People's Committee encourages applying online.
---
## Where to apply

Go to the National Public Service Portal, register and sign in.
"""
# Not UTF-8 (so it is hashed byte for byte), with CR LF pairs inside like a real PDF.
PDF = (
    b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<< /Type /Catalog >>\r\nstream\r\n"
    + bytes(range(256))
    + b"\r\nendstream\r\n%%EOF\r\n"
)


def base_files() -> dict[str, bytes]:
    return {
        "campaign.yaml": CAMPAIGN_YAML.encode(),
        "vi.md": VI_MD.encode(),
        "en.md": EN_MD.encode(),
        "files/attachment.pdf": PDF,
    }


def write_campaign(folder: Path, files: Mapping[str, bytes], order: Iterable[str] = ()) -> Path:
    """Create the campaign folder, writing the files in `order` (default: as given)."""
    for name in list(order) or list(files):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
    return folder


def revision(tmp_path: Path, files: Mapping[str, bytes], name: str = "campaign") -> str:
    return revision_of(write_campaign(tmp_path / name, files))


def test_revision_is_a_64_hex_digit_string(tmp_path: Path) -> None:
    value = revision(tmp_path, base_files())
    assert re.fullmatch(r"[0-9a-f]{64}", value), value


def test_revision_is_the_same_for_the_same_files(tmp_path: Path) -> None:
    first = revision(tmp_path, base_files(), "one")
    second = revision(tmp_path, base_files(), "two")
    assert first == second
    assert revision_of(tmp_path / "one") == first


def test_line_endings_do_not_change_the_revision(tmp_path: Path) -> None:
    lf = base_files()
    crlf = {
        name: data if name.endswith(".pdf") else data.replace(b"\n", b"\r\n")
        for name, data in lf.items()
    }
    assert crlf["vi.md"] != lf["vi.md"]
    assert revision(tmp_path, lf, "lf") == revision(tmp_path, crlf, "crlf")


def test_unicode_normalisation_of_the_text_does_not_change_the_revision(tmp_path: Path) -> None:
    nfc = base_files()
    nfd = {
        name: data
        if name.endswith(".pdf")
        else unicodedata.normalize("NFD", data.decode()).encode()
        for name, data in nfc.items()
    }
    assert nfd["vi.md"] != nfc["vi.md"]
    assert revision(tmp_path, nfc, "nfc") == revision(tmp_path, nfd, "nfd")


def test_unicode_normalisation_of_file_names_does_not_change_the_revision(
    tmp_path: Path,
) -> None:
    # Attachments named in Vietnamese, as saved on a machine that writes NFC names and on one
    # that writes NFD names (macOS, some zip tools). NFD "ảnh" starts with a plain "a" and sorts
    # before "bia", NFC "ảnh" (U+1EA3) sorts after it.
    names = ["files/ảnh chụp.pdf", "files/bia.pdf"]
    files = base_files()
    nfc = {**files, **{name: PDF + name.encode() for name in names}}
    nfd = {
        **files,
        **{unicodedata.normalize("NFD", name): PDF + name.encode() for name in names},
    }
    assert set(nfd) != set(nfc)
    assert revision(tmp_path, nfc, "nfc") == revision(tmp_path, nfd, "nfd")


def test_the_order_files_are_created_in_does_not_matter(tmp_path: Path) -> None:
    files = base_files()
    forward = write_campaign(tmp_path / "forward", files, order=sorted(files))
    backward = write_campaign(tmp_path / "backward", files, order=sorted(files, reverse=True))
    assert revision_of(forward) == revision_of(backward)


def _flip_one_byte(data: bytes) -> bytes:
    """`data` with one byte in the middle changed, keeping UTF-8 text valid UTF-8."""
    for index in range(len(data) // 2, len(data)):
        byte = data[index]
        if chr(byte).isalpha() and byte < 0x80:
            return data[:index] + bytes([byte ^ 0x20]) + data[index + 1 :]  # swap case
    raise AssertionError("no ASCII letter to change")


@pytest.mark.parametrize("name", sorted(base_files()))
def test_changing_one_byte_of_any_file_changes_the_revision(tmp_path: Path, name: str) -> None:
    files = base_files()
    changed = {**files, name: _flip_one_byte(files[name])}
    assert changed[name] != files[name]
    assert len(changed[name]) == len(files[name])
    assert revision(tmp_path, files, "before") != revision(tmp_path, changed, "after")


def test_changing_one_binary_byte_of_the_attachment_changes_the_revision(tmp_path: Path) -> None:
    files = base_files()
    index = PDF.index(b"\xe2")
    changed = {**files, "files/attachment.pdf": PDF[:index] + b"\xe3" + PDF[index + 1 :]}
    assert revision(tmp_path, files, "before") != revision(tmp_path, changed, "after")


def test_adding_renaming_or_moving_content_changes_the_revision(tmp_path: Path) -> None:
    files = base_files()
    original = revision(tmp_path, files, "original")
    added = revision(tmp_path, {**files, "files/extra.pdf": PDF}, "added")
    renamed_files = dict(files)
    renamed_files["files/document.pdf"] = renamed_files.pop("files/attachment.pdf")
    renamed = revision(tmp_path, renamed_files, "renamed")
    # The same bytes split differently between two files is a different campaign.
    split = {**files, "vi.md": files["vi.md"][:-10], "en.md": files["vi.md"][-10:] + files["en.md"]}
    moved = revision(tmp_path, split, "moved")
    assert len({original, added, renamed, moved}) == 4


def test_check_lists_each_campaign_with_its_revision() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BROADCASTER_")}
    result = subprocess.run(
        [str(CLI), "check", "--root", str(FIXTURE)],
        cwd=FIXTURE,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    campaigns = sorted(
        path.parent for path in (FIXTURE / "campaigns").glob("*/campaign.yaml") if path.is_file()
    )
    assert len(campaigns) >= 4
    lines = result.stdout.splitlines()
    for folder in campaigns:
        expected = revision_of(folder)[:12]
        listed = [line for line in lines if re.search(rf"\bcampaign\s+{folder.name}\s", line)]
        assert len(listed) == 1, (folder.name, result.stdout)
        assert re.search(rf"\brevision {expected}$", listed[0]), listed[0]
        found = re.findall(r"\b[0-9a-f]{12}\b", listed[0])
        assert found == [expected]
