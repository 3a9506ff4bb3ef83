"""The trouble log's kinds of failure, hints and limits, channel by channel."""

from __future__ import annotations

import logging

import pytest

from broadcaster.outbox.trouble import TroubleLog, cause_of, hint_for


@pytest.mark.parametrize(
    ("reason", "cause", "hint"),
    [
        ("SMTP 451 4.3.0 <a@example.vn>: queue file write error", "SMTP 451 4.3.0", "relay's log"),
        ("SMTP 421 Service not available", "SMTP 421", "relay's log"),
        ("SMTP 452 4.2.2 Mailbox full (id 8F3A)", "SMTP 452 4.2.2", "relay's log"),
        (
            "SMTP relay 127.0.0.1:25: Connection refused",
            "SMTP relay 127.0.0.1:25: Connection refused",
            "can reach it",
        ),
        ("HTTP 503 Service Unavailable", "HTTP 503", "endpoint is failing"),
        ("HTTP 429 Too Many Requests", "HTTP 429", "slow down"),
        (
            "no answer from https://bao.example/hook within 10 s",
            "no answer from https://bao.example/hook within 10 s",
            "does not answer in time",
        ),
        (
            "cannot write to /srv/var/mail: No space left on device",
            "cannot write to /srv/var/mail: No space left on device",
            "free space on the disk",
        ),
        ("something new <x@y.vn>", "something new <address>", "broadcaster status"),
    ],
)
def test_causes_and_hints(reason: str, cause: str, hint: str) -> None:
    assert cause_of(reason) == cause
    assert hint in hint_for(reason)
    assert "retried" in hint_for(reason)


def test_each_channel_and_cause_has_its_own_first_line_and_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    trouble = TroubleLog(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="broadcaster.outbox.trouble"):
        for _ in range(100):
            trouble.failed("citizens", "SMTP 451 4.3.0 busy")
            trouble.failed("citizens", "SMTP 421 closing")
            trouble.failed("partners", "HTTP 503 Service Unavailable")
        firsts = [r.getMessage() for r in caplog.records]
        assert len(firsts) == 3
        assert {m.split(":")[0] for m in firsts} == {"channel citizens", "channel partners"}
        caplog.clear()
        now[0] = 60.0
        trouble.failed("citizens", "SMTP 451 4.3.0 busy")  # the minute is over: summaries
        counts = sorted(r.getMessage().split(" more")[0] for r in caplog.records)
        assert counts == ["channel citizens: 100", "channel citizens: 99", "channel partners: 99"]
