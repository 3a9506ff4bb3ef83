"""The press release to the desk list, received by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from tests.mail.conftest import Handler, Rig

DESK = ["toasoan@baokhanhhoa.example.vn", "thoisu@ktv.example.vn"]
PDF = Path("campaigns/online-submission/files/6176-UBND-KSTT.pdf")


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_press_release_arrives_with_heading_directive_pdf_and_radio_script(
    smtp_rig: Rig, handler: Handler
) -> None:
    publication_id = await smtp_rig.publish("press-desk")
    await smtp_rig.workers.run_until_idle("test")
    progress = await smtp_rig.outbox.progress(publication_id)
    assert progress["press-desk"] == {"delivered": 2}
    arrived = handler.delivered()
    assert sorted(r for item in arrived for r in item.recipients) == sorted(DESK)

    message = parse(arrived[0].data)
    assert message["From"].addresses[0].addr_spec == "baochi@example.gov.vn"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    text, markup = plain.get_content(), html.get_content()
    for body in (text, markup):
        assert "UBND TỈNH KHÁNH HÒA" in body
        assert "6176/UBND-KSTT" in body
        assert "THÔNG CÁO BÁO CHÍ" in body
        assert "6176-UBND-KSTT.pdf" in body

    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {"6176-UBND-KSTT.pdf", "radio-online-submission-vi.txt"}
    pdf = attachments["6176-UBND-KSTT.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == (smtp_rig.root / PDF).read_bytes()
    assert pdf.get_content().startswith(b"%PDF-")
    radio = attachments["radio-online-submission-vi.txt"]
    assert radio.get_content_type() == "text/plain"
    assert radio.get_content_charset() == "utf-8"
    script = radio.get_content()
    assert script.startswith("KỊCH BẢN ĐỌC TRÊN SÓNG PHÁT THANH")
    duration = script.splitlines()[1].split(": ", 1)[1]
    assert "giây" in duration or "phút" in duration
    # The reading time is in the press release too, next to the attachment's name.
    assert duration in text
