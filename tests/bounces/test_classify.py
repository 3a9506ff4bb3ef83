"""Reading bounce-mailbox messages: DSNs, ARF complaints, and mail that is neither."""

from __future__ import annotations

from broadcaster.bounces import Kind, classify
from broadcaster.bounces.process import parse
from tests.bounces.messages import (
    arf,
    dsn,
    malformed_bounce,
    ordinary,
    vacation,
    verp_address,
    verp_token,
)

RCPT = "an.nguyen@mail.example.vn"


def test_a_5_1_1_dsn_is_a_hard_bounce_for_its_final_recipient() -> None:
    finding = classify(parse(dsn(RCPT, status="5.1.1")))
    assert (finding.kind, finding.addresses) == (Kind.HARD, (RCPT,))
    assert "5.1.1" in finding.detail


def test_a_delayed_4_2_2_dsn_is_a_soft_bounce() -> None:
    finding = classify(parse(dsn(RCPT, status="4.2.2", action="delayed")))
    assert (finding.kind, finding.addresses) == (Kind.SOFT, (RCPT,))


def test_a_mailbox_full_given_up_on_is_still_only_soft() -> None:
    # Some MTAs end with `Action: failed` yet keep the transient 4.2.2 status.
    finding = classify(parse(dsn(RCPT, status="4.2.2", action="failed")))
    assert finding.kind is Kind.SOFT


def test_the_verp_recipient_is_read_from_the_delivery_headers_and_the_envelope() -> None:
    address = verp_address(7)
    assert classify(parse(dsn(RCPT, to=address))).verp_tokens == (verp_token(7),)
    envelope = classify(parse(dsn(RCPT)), [verp_address(8)])
    assert envelope.verp_tokens == (verp_token(8),)


def test_an_abuse_report_is_a_complaint_about_the_original_recipient() -> None:
    finding = classify(parse(arf(RCPT, verp_address(3))))
    assert finding.kind is Kind.COMPLAINT
    assert finding.addresses == (RCPT,)
    assert finding.verp_tokens == (verp_token(3),)  # from the original's Return-Path


def test_other_feedback_reports_and_ordinary_mail_are_not_bounces() -> None:
    assert classify(parse(arf(RCPT, verp_address(3), feedback_type="not-spam"))).kind is (
        Kind.NOT_BOUNCE
    )
    assert classify(parse(ordinary())).kind is Kind.NOT_BOUNCE
    assert classify(parse(vacation(verp_address(4)))).kind is Kind.NOT_BOUNCE


def test_a_malformed_bounce_to_a_verp_address_still_names_the_subscriber() -> None:
    finding = classify(parse(malformed_bounce(verp_address(5))))
    assert finding.kind is Kind.HARD  # its only status code is 5.1.1
    assert finding.verp_tokens == (verp_token(5),)
    without_verp = classify(parse(malformed_bounce(f"bounces@{RCPT.split('@')[1]}")))
    assert without_verp.kind is Kind.UNRECOGNISED
