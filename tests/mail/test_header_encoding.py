"""Subjects and addresses as readers see them: through a real SMTP server (aiosmtpd),
parsed back with `email.policy.default`.

CPython's header folder (gh-92081) dropped the space between two encoded words where it
broke the line ("Bộ phận Mộtcửa"); the press desk's To went out as raw UTF-8.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller

from broadcaster.outbox.tables import PublicationSource
from broadcaster.publishing.preview import preview
from broadcaster.settings import Settings
from broadcaster.web.admin.drafts import rendition_items
from broadcaster.workspace.load import load_workspace
from tests.conftest import FIXTURE, copy_workspace
from tests.mail.conftest import Handler, Rig, make_rig

TITLE = re.compile(r"(?m)^title: (.*)$")
FIXTURE_TITLES = [
    TITLE.search(path.read_text(encoding="utf-8"))[1]  # type: ignore[index]
    for path in sorted((FIXTURE / "campaigns").glob("*/*.md"))
    if path.name in ("vi.md", "en.md")
]
MADE_UP = [
    "Bộ phận Một cửa",
    "Bộ phận Một cửa tiếp nhận hồ sơ trực tuyến từ ngày 01/8/2021 cho mọi thủ tục",
    "Mưa lớn",
    "Notice",
    "KHẨN: Tạm dừng tiếp nhận hồ sơ trực tiếp tại Bộ phận Một cửa UBND tỉnh Khánh Hòa",
    "Thông báo số 6176/UBND-KSTT (cập nhật lần 2) – điều chỉnh giờ làm việc",
    "Hỏi đáp: Làm thế nào để nộp hồ sơ trực tuyến? Xem hướng dẫn chi tiết!",
    "Lịch tiếp công dân tháng 8; giờ hành chính: 7h30–11h30, 13h30–17h00",
    "“Một cửa, một dấu”: người dân chỉ đến một nơi, nộp một lần, nhận một kết quả",
    "Cảnh báo lừa đảo qua điện thoại, tin nhắn giả danh cơ quan nhà nước … hãy cảnh giác",
    "ĐIỀU CHỈNH THỜI GIAN TIẾP NHẬN VÀ TRẢ KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
    "Phường Lộc Thọ, xã Vĩnh Lương, thị trấn Cam Đức: điểm hỗ trợ dịch vụ công "
    "trực tuyến mở cửa cả thứ Bảy và Chủ nhật trong suốt thời gian cao điểm của mùa dịch",
    "Apply online: the one-stop counter (Bộ phận Một cửa) is closed until further notice",
    "One-stop counters reopen on Monday, 16 August 2021, with new opening hours for "
    "everyone who needs to complete administrative procedures in person",
    "Scam warning: nobody from the People's Committee will ever ask for your password",
    "Heavy rain & flooding: roads closed in Cam Lam, Dien Khanh and Khanh Vinh (update 3)",
    "100% of procedures can now be paid online; fees are 50% lower until 31/12/2021",
    'Q&A - "How do I register for public postal services?" - answers inside',
    "COVID-19 measures at one-stop counters - what changes for you from 9 July",
    "Điểm hỗ trợ",
    "Đường dây nóng 0258 000 0000 hoạt động 24/7 từ hôm nay",
    "Tiêm vắc-xin mũi 3 cho người từ 18 tuổi trở lên tại các trạm y tế xã, phường, "
    "thị trấn trên địa bàn tỉnh Khánh Hòa, đăng ký trước qua Cổng dịch vụ công",
]
SUBJECTS = FIXTURE_TITLES + MADE_UP
DESK = ["toasoan@baokhanhhoa.example.vn", "thoisu@ktv.example.vn"]
READERS = {"vi": "doc-gia-vi@example.vn", "en": "reader-en@example.vn"}


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def campaigns_titled(root: Path, subjects: list[str]) -> list[str]:
    """One normal-priority campaign per subject, with it as both its vi and en title."""
    source = root / "campaigns" / "online-submission"
    ids = []
    for index, subject in enumerate(subjects):
        target = root / "campaigns" / f"subject-{index:02d}"
        shutil.copytree(source, target)
        config = target / "campaign.yaml"
        config.write_text(
            config.read_text(encoding="utf-8").replace("priority: urgent", "priority: normal"),
            encoding="utf-8",
        )
        title = f"title: {json.dumps(subject, ensure_ascii=False)}"
        for name in ("vi.md", "en.md"):
            page = target / name
            old = TITLE.search(page.read_text(encoding="utf-8"))
            assert old is not None
            page.write_text(page.read_text("utf-8").replace(old[0], title, 1), encoding="utf-8")
        ids.append(target.name)
    return ids


def smtp_env(server: Controller) -> dict[str, str]:
    return {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_PORT": str(server.port),
        "BROADCASTER_SECRET_KEY": "k" * 40,
    }


async def test_thirty_subjects_arrive_exactly_for_subscribers_and_the_desk(
    tmp_path: Path, smtp_server: Controller, handler: Handler
) -> None:
    assert len(SUBJECTS) == 30
    root = copy_workspace(tmp_path / "ws")
    ids = campaigns_titled(root, SUBJECTS)
    rig = await make_rig(root, smtp_env(smtp_server))
    try:
        for locale, address in READERS.items():
            await rig.subscribe(address, locale)
        for campaign in ids:
            await rig.publisher.publish(
                campaign, ["citizens", "press-desk"], source=PublicationSource.CLI
            )
        await rig.workers.run_until_idle("test")
    finally:
        await rig.close()

    subjects: dict[str, Counter[str]] = {}
    for item in handler.delivered():
        (recipient,) = item.recipients
        subjects.setdefault(recipient, Counter())[parse(item.data)["Subject"]] += 1
    assert set(subjects) == {*READERS.values(), *DESK}
    for recipient, got in subjects.items():
        assert got == Counter(SUBJECTS), recipient
    for item in handler.delivered():
        head = item.data.partition(b"\r\n\r\n")[0]
        assert head.isascii(), head  # every header encoded, none raw UTF-8


async def test_desk_headers_match_the_preview_but_for_to_and_message_id(
    smtp_rig: Rig, handler: Handler
) -> None:
    await smtp_rig.publish("press-desk")
    await smtp_rig.workers.run_until_idle("test")
    arrived = handler.delivered()
    assert sorted(r for item in arrived for r in item.recipients) == sorted(DESK)

    first = parse(arrived[0].data)
    published_at = parsedate_to_datetime(first["Date"])
    shown = preview(
        smtp_rig.workspace,
        smtp_rig.settings,
        "online-submission",
        channels=["press-desk"],
        locales=["vi"],
        published_at=published_at,
    )
    (rendition,) = shown.renditions
    expected = rendition.files["email.eml"]
    preview_message = parse(expected)
    preview_to = {a.addr_spec: a for a in preview_message["To"].addresses}
    preview_fields = raw_fields(expected)

    for item in arrived:
        (recipient,) = item.recipients
        fields = raw_fields(item.data)
        assert item.data.partition(b"\r\n\r\n")[0].isascii()
        message = parse(item.data)
        (to,) = message["To"].addresses
        assert to == preview_to[recipient]
        assert to.display_name in ("Ban biên tập (ví dụ)", "Phòng thời sự (ví dụ)")
        assert [name for name, _ in fields] == [name for name, _ in preview_fields]
        for (name, value), (_, shown_value) in zip(fields, preview_fields, strict=True):
            if name == "content-type":  # the MIME boundary is drawn anew for each build
                assert message.get_content_type() == preview_message.get_content_type()
            elif name not in ("to", "message-id"):
                assert value == shown_value, name


def raw_fields(data: bytes) -> list[tuple[str, bytes]]:
    """The top-level header fields as sent: (lower-case name, folded value bytes)."""
    head = data.partition(b"\r\n\r\n")[0]
    fields: list[tuple[str, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        else:
            field, _, value = line.partition(b":")
            fields.append((field.decode().lower(), value))
    return fields


def test_the_admin_preview_shows_the_subjects_as_written(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    long_ones = [subject for subject in SUBJECTS if len(subject.encode()) > 60]
    ids = campaigns_titled(root, long_ones)
    settings = Settings.from_environ(root, {"BROADCASTER_BASE_URL": "https://tb.example.gov.vn"})
    workspace, diagnostics = load_workspace(root, settings)
    assert workspace is not None, diagnostics.errors
    types = {name: channel.type for name, channel in workspace.channels.items()}
    for campaign, subject in zip(ids, long_ones, strict=True):
        shown = preview(
            workspace,
            settings,
            campaign,
            channels=["citizens", "press-desk"],
            published_at=datetime(2021, 7, 10, tzinfo=UTC),
        )
        items = rendition_items(shown.renditions, types)
        subjects = [s for item in items for s in item["subjects"].values()]
        assert subjects == [subject] * 4  # two channels, two locales
