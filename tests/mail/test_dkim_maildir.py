"""DKIM signatures checked by dkimpy, the Maildir transport, VERP and the template's cuts."""

from __future__ import annotations

import base64
import email
import email.policy
import mailbox
import re
from collections.abc import Callable
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from broadcaster.mail.compose import MessageTemplate, Slot, list_message
from broadcaster.mail.dkim import DkimKey, DkimSigner
from broadcaster.mail.verp import Verp, read_token
from broadcaster.outbox.tables import DeliveryStatus, PublicationSource
from tests.conftest import copy_workspace
from tests.mail.conftest import Handler, make_rig

LIST_HEADERS = {b"list-unsubscribe", b"list-unsubscribe-post", b"list-id"}


def write_key(folder: Path, kind: str) -> Path:
    """A fresh private key file: RSA-2048 as PEM, Ed25519 as dknewkey's base64 seed."""
    path = folder / f"{kind}.key"
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    else:
        seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        path.write_bytes(base64.b64encode(seed) + b"\n")
    return path


def dns_for(
    record: str, selector: str = "bc2021", domain: str = "example.gov.vn"
) -> Callable[..., bytes]:
    """dkimpy's DNS lookup, answering only for the selector's TXT record."""

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{selector}._domainkey.{domain}.".encode()
        return record.encode()

    return dnsfunc


def signed_headers(message: bytes) -> set[bytes]:
    match = re.search(rb"\bh=([^;]+);", message.replace(b"\r\n\t", b" "))
    assert match is not None
    return {name.strip().lower() for name in match.group(1).split(b":")}


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_list_mail_dkim_verifies_and_covers_the_list_headers(
    tmp_path: Path, smtp_server: Controller, handler: Handler, kind: str
) -> None:
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
        for number in range(6):  # enough to sign in the worker thread, in a chunk
            await rig.subscribe(f"ky{number}@example.vn", locale="en" if number % 2 else "vi")
        await rig.publish()
        await rig.workers.run_until_idle()
    finally:
        await rig.close()
    record = DkimKey.from_file(key_path).public_record
    assert len(handler.delivered()) == 6
    for received in handler.delivered():
        assert received.data.startswith(b"DKIM-Signature: ")
        assert dkim.verify(received.data, dnsfunc=dns_for(record)), received.data[:600]
        assert LIST_HEADERS | {b"from", b"to", b"subject", b"date", b"message-id"} <= (
            signed_headers(received.data)
        )
        # Changing what a signature covers breaks it.
        tampered = received.data.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Clack",
        )
        assert not dkim.verify(tampered, dnsfunc=dns_for(record))


def test_template_signature_matches_signing_the_finished_message(tmp_path: Path) -> None:
    key = DkimKey.from_file(write_key(tmp_path, "rsa"))
    signer = DkimSigner("example.gov.vn", "bc2021", key, clock=lambda: 1_700_000_000)
    template = MessageTemplate.parse(
        list_message(
            static_headers=[("From", "Sở <a@example.gov.vn>"), ("Subject", "Thông báo  mới ")],
            unsubscribe_url="https://x.example/unsubscribe/PREVIEW-UNSUBSCRIBE-TOKEN",
            unsubscribe_mailto="mailto:u@example.gov.vn?subject=PREVIEW-UNSUBSCRIBE-TOKEN",
            language="vi",
            text="Xin chào  \t bạn \n\n. một dòng bắt đầu bằng dấu chấm\nPREVIEW-PREFERENCES-TOKEN  \n\n\n",
            html="<p>PREVIEW-UNSUBSCRIBE-TOKEN</p>" + " x" * 800,
        )
    )
    values = (b"b@example.vn", b"abc@example.gov.vn", b"UNSUB.tok-1", b"PREF.tok_2")
    message = template.fill(values)
    assert signer.prepare(template).header(values) == signer.sign(message)
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert parsed["To"] == "b@example.vn"
    assert max(len(line) for line in message.split(b"\r\n")) <= 998
    stuffed = template.fill_stuffed(b"", values)
    assert b"\r\n.. m" in stuffed
    assert stuffed.endswith(b"\r\n.\r\n")
    assert list(template.head.slots) == [
        Slot.TO,
        Slot.MESSAGE_ID,
        Slot.UNSUBSCRIBE,
        Slot.UNSUBSCRIBE,
    ]


def test_verp_tokens_name_the_subscriber_and_cannot_be_forged() -> None:
    verp = Verp(b"s" * 32, "example.gov.vn")
    address = verp.address(42)
    assert re.fullmatch(r"bounces\+42-[0-9a-f]{20}@example\.gov\.vn", address)
    token = address.split("+", 1)[1].split("@")[0]
    assert read_token(b"s" * 32, token) == 42
    assert read_token(b"s" * 32, token.upper()) == 42  # relays may change the case
    assert read_token(b"t" * 32, token) is None
    assert read_token(b"s" * 32, "43-" + token.split("-")[1]) is None
    assert read_token(b"s" * 32, "garbage") is None


async def test_maildir_transport_writes_messages_a_mail_client_reads(tmp_path: Path) -> None:
    root = copy_workspace(tmp_path / "ws")
    rig = await make_rig(root, {"BROADCASTER_SECRET_KEY": "k" * 40})  # transport: maildir
    try:
        sid = await rig.subscribe("maildir@example.vn")
        publication_id = await rig.publish()
        await rig.publisher.publish("online-submission", ["press-desk"], source=rig_source())
        await rig.workers.run_until_idle()
        progress = await rig.outbox.progress(publication_id)
    finally:
        await rig.close()
    assert progress["citizens"] == {DeliveryStatus.DELIVERED: 1}
    box = mailbox.Maildir(str(root / "var" / "mail"), create=False)
    messages = [
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        for key in box.iterkeys()
    ]
    to = sorted(str(m["To"]) for m in messages)
    assert "maildir@example.vn" in to
    assert len(messages) == 3  # the subscriber and the two desk addresses
    subscriber = next(m for m in messages if m["To"] == "maildir@example.vn")
    assert subscriber["Return-Path"].startswith(f"<bounces+{sid}-")
    assert subscriber.get_body(preferencelist=("plain",)) is not None
    desk = [m for m in messages if m is not subscriber]
    assert all(m["Message-ID"] != subscriber["Message-ID"] for m in desk)
    assert len({m["Message-ID"] for m in desk}) == 2


def rig_source() -> PublicationSource:
    return PublicationSource.CLI
