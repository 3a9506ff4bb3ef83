"""Realistic bounce-mailbox messages: RFC 3464 DSNs, RFC 5965 ARF reports, ordinary mail."""

from __future__ import annotations

from broadcaster.bounces.verp import subscriber_reader
from broadcaster.mail.verp import make_token

LIST_DOMAIN = "example.gov.vn"
SECRET = b"s" * 32


def verp_token(subscriber_id: int) -> str:
    """The mail engine's VERP token for this subscriber."""
    return make_token(SECRET, subscriber_id)


read_verp = subscriber_reader(SECRET)


def verp_address(subscriber_id: int) -> str:
    return f"bounces+{verp_token(subscriber_id)}@{LIST_DOMAIN}"


def _original(recipient: str, return_path: str) -> str:
    return (
        f"Return-Path: <{return_path}>\r\n"
        f"From: =?utf-8?q?UBND_t=E1=BB=89nh_Kh=C3=A1nh_H=C3=B2a?= <thongbao@{LIST_DOMAIN}>\r\n"
        f"To: {recipient}\r\n"
        "Subject: =?utf-8?b?SMaw4bubbmcgZOG6q24gbuG7mXAgaOG7kyBzxqEgdHLhu7FjIHR1eeG6v24=?=\r\n"
        f"Message-ID: <0f3c2a9e1b7d4c55@{LIST_DOMAIN}>\r\n"
        f"List-Id: <citizens.{LIST_DOMAIN}>\r\n"
        "Date: Sat, 10 Jul 2021 08:00:00 +0700\r\n"
    )


def dsn(
    recipient: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    to: str | None = None,
    diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    queue_id: str = "3F2A1B0C",
) -> bytes:
    """A Postfix-style RFC 3464 DSN (multipart/report; report-type=delivery-status); each
    `queue_id` gives another message (its Message-Id)."""
    to = to or f"bounces@{LIST_DOMAIN}"
    boundary = "3F2A1B0C.1625881234/mx.example.vn"
    words = "could not be delivered" if action == "failed" else "is delayed"
    text = (
        "This is the mail system at host mx.example.vn.\r\n\r\n"
        f"I'm sorry to have to inform you that your message {words}\r\n"
        "to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host mx.example.vn said: {status} mailbox problem\r\n"
    )
    return (
        "Return-Path: <>\r\n"
        f"Delivered-To: {to}\r\n"
        "Received: by mx.example.vn (Postfix) id 3F2A1B0C; Sat, 10 Jul 2021 08:01:02 +0700\r\n"
        "Date: Sat, 10 Jul 2021 08:01:02 +0700 (ICT)\r\n"
        "From: MAILER-DAEMON@mx.example.vn (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {to}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"Message-Id: <20210710010102.{queue_id}@mx.example.vn>\r\n"
        "\r\n"
        "This is a MIME-encapsulated message.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{text}\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.vn\r\n"
        "X-Postfix-Queue-ID: 3F2A1B0C\r\n"
        f"X-Postfix-Sender: rfc822; {to}\r\n"
        "Arrival-Date: Sat, 10 Jul 2021 08:00:59 +0700 (ICT)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mail.{recipient.rpartition('@')[2]}\r\n"
        f"Diagnostic-Code: {diagnostic.format(rcpt=recipient)}\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{_original(recipient, to)}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def arf(recipient: str, return_path: str, *, feedback_type: str = "abuse") -> bytes:
    """An RFC 5965 feedback report as a mailbox provider's feedback loop sends it."""
    boundary = "----=_ARF_0001"
    return (
        "Return-Path: <fbl@feedback.mail.example.vn>\r\n"
        f"Delivered-To: bounces@{LIST_DOMAIN}\r\n"
        "From: Feedback Loop <fbl@feedback.mail.example.vn>\r\n"
        f"To: bounces@{LIST_DOMAIN}\r\n"
        "Subject: FW: complaint about a message from your domain\r\n"
        "Date: Sat, 10 Jul 2021 09:15:00 +0700\r\n"
        "Message-ID: <arf-0001@feedback.mail.example.vn>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is an email abuse report for an email message received from IP 203.0.113.5.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        f"Original-Mail-From: <{return_path}>\r\n"
        f"Original-Rcpt-To: <{recipient}>\r\n"
        "Source-IP: 203.0.113.5\r\n"
        "Arrival-Date: Sat, 10 Jul 2021 08:00:05 +0700\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        f"{_original(recipient, return_path)}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Noi dung thong bao.\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def ordinary(sender: str = "nguoi.dan@mail.example.vn") -> bytes:
    """A citizen's reply: not a bounce, must be left for a person."""
    return (
        f"From: Nguyen Van An <{sender}>\r\n"
        f"To: thongbao@{LIST_DOMAIN}\r\n"
        "Subject: =?utf-8?q?C=E1=BA=A3m_=C6=A1n?=\r\n"
        "Date: Sat, 10 Jul 2021 10:00:00 +0700\r\n"
        "Message-ID: <reply-1@mail.example.vn>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Cam on thong tin.\r\n"
    ).encode()


def vacation(to: str) -> bytes:
    """An out-of-office auto-reply sent to the return path: not a bounce either."""
    return (
        "Return-Path: <>\r\n"
        f"Delivered-To: {to}\r\n"
        "From: Tran Thi Binh <binh@mail.example.vn>\r\n"
        f"To: {to}\r\n"
        "Subject: Auto: Out of office\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Date: Sat, 10 Jul 2021 10:00:00 +0700\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I am out of the office until Monday.\r\n"
    ).encode()


def malformed_bounce(to: str) -> bytes:
    """A bounce no parser understands, sent to a VERP address."""
    return (
        "Return-Path: <>\r\n"
        f"Delivered-To: {to}\r\n"
        "From: postmaster@old-mta.example.vn\r\n"
        f"To: {to}\r\n"
        "Subject: Delivery failure\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Your message could not be delivered. Remote said: 550 5.1.1 no such user here.\r\n"
    ).encode()
