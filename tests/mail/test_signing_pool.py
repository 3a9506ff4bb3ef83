"""Large batches are DKIM-signed in signing processes; what they sign verifies the same."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest
from aiosmtpd.controller import Controller

from broadcaster.mail import sender
from broadcaster.mail.compose import MessageTemplate, list_message
from broadcaster.mail.dkim import DkimKey, DkimSigner
from broadcaster.mail.signing import SigningPool
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, make_rig
from tests.mail.test_dkim_maildir import dns_for, signed_headers, write_key


def sample_template() -> bytes:
    return list_message(
        static_headers=[("From", "Sở <a@example.gov.vn>"), ("Subject", "Nộp hồ sơ trực tuyến")],
        unsubscribe_url="https://x.example/unsubscribe/PREVIEW-UNSUBSCRIBE-TOKEN",
        unsubscribe_mailto="mailto:u@example.gov.vn?subject=PREVIEW-UNSUBSCRIBE-TOKEN",
        language="vi",
        text="Xin chào bạn\nPREVIEW-PREFERENCES-TOKEN\n",
        html="<p>PREVIEW-UNSUBSCRIBE-TOKEN</p>",
    )


def values(number: int) -> tuple[bytes, bytes, bytes, bytes]:
    return (b"dan%d@example.vn" % number, b"m%d@example.gov.vn" % number, b"U%d" % number, b"P")


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_a_large_batch_is_signed_in_processes_and_verifies(
    tmp_path: Path,
    smtp_server: Controller,
    handler: Handler,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small thresholds, so a handful of subscribers takes the path a big list takes.
    monkeypatch.setattr(sender, "CHUNK", 2)
    monkeypatch.setattr(sender, "POOL_AT_LEAST", 4)
    root = copy_workspace(tmp_path / "ws")
    key_path = write_key(root, kind)
    channel = root / "channels" / "citizens.yaml"
    channel.write_text(
        channel.read_text("utf-8")
        + f"dkim: {{domain: example.gov.vn, selector: bc2021, key_file: {key_path.name}}}\n",
        encoding="utf-8",
    )
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_PORT": str(smtp_server.port)}
    rig = await make_rig(root, env | {"BROADCASTER_SECRET_KEY": "k" * 40})
    try:
        for number in range(9):  # both locales: two templates within one chunk
            await rig.subscribe(f"ky{number}@example.vn", locale="en" if number % 2 else "vi")
        await rig.publish()
        await rig.workers.run_until_idle()
        mail = rig.channels["citizens"].outbound._sender  # type: ignore[attr-defined]
        pool = mail._pool
        assert pool is not None
        assert pool._children, "no signing process was used"
    finally:
        await rig.close()
    assert not pool._children  # closing the channel stops them
    record = DkimKey.from_file(key_path).public_record
    delivered = handler.delivered()
    assert sorted(r.recipients[0] for r in delivered) == sorted(
        f"ky{n}@example.vn" for n in range(9)
    )
    for received in delivered:
        assert dkim.verify(received.data, dnsfunc=dns_for(record)), received.data[:600]
        assert {b"to", b"message-id", b"list-unsubscribe"} <= signed_headers(received.data)


async def test_a_signing_process_that_dies_loses_no_signature(tmp_path: Path) -> None:
    key = DkimKey.from_file(write_key(tmp_path, "rsa"))
    signer = DkimSigner("example.gov.vn", "bc2021", key)
    raw = sample_template()
    template = MessageTemplate.parse(raw)
    pool = SigningPool(signer, processes=1)
    try:
        first = await pool.sign([raw], [(0, values(n)) for n in range(3)])
        (child,) = pool._children
        os.kill(child.process.pid, signal.SIGKILL)
        await child.process.wait()
        # The batch after the crash is signed (by a new process), the one after that too.
        second = await pool.sign([raw], [(0, values(n)) for n in range(3, 6)])
        third = await pool.sign([raw], [(0, values(n)) for n in range(6, 9)])
        (replacement,) = pool._children
        assert replacement is not child
    finally:
        await pool.close()
    for number, header in enumerate(first + second + third):
        message = header + template.fill(values(number))
        assert dkim.verify(message, dnsfunc=dns_for(key.public_record)), message[:400]


async def test_a_closed_pool_signs_here_and_starts_no_process(tmp_path: Path) -> None:
    """A batch still running on a channel a reload replaced (and closed) is signed in the
    service, as when no process can; it never starts processes nobody would stop."""
    key = DkimKey.from_file(write_key(tmp_path, "rsa"))
    pool = SigningPool(DkimSigner("example.gov.vn", "bc2021", key), processes=1)
    raw = sample_template()
    await pool.sign([raw], [(0, values(0))])
    await pool.close()

    (header,) = await pool.sign([raw], [(0, values(1))])

    assert pool._children == []
    message = header + MessageTemplate.parse(raw).fill(values(1))
    assert dkim.verify(message, dnsfunc=dns_for(key.public_record))
