"""`bounces process`: Maildir and mbox against the real subscriber store."""

from __future__ import annotations

import mailbox
from pathlib import Path

from broadcaster.bounces import BounceOutcome, BounceProcessor
from broadcaster.bounces.mailboxes import process_path
from broadcaster.subscribers.api import SubscriberStatus
from broadcaster.subscribers.store import SqlSubscriberStore
from tests.bounces.conftest import subscribe
from tests.bounces.messages import arf, dsn, malformed_bounce, ordinary, vacation, verp_address

GARBAGE = b"\x00\x01\x02\x89PNG not a message\xff\xfe"


def maildir(folder: Path, messages: dict[str, bytes]) -> Path:
    """A Maildir with each message in new/ under its given name, as an MTA leaves them."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for name, data in messages.items():
        (folder / "new" / name).write_bytes(data)
    return folder


async def test_a_maildir_of_bounces_suppresses_scores_and_leaves_the_rest(
    tmp_path: Path, store: SqlSubscriberStore, processor: BounceProcessor
) -> None:
    gone = "khong.ton.tai@mail.example.vn"
    await subscribe(store, gone)
    forwarded_id = await subscribe(store, "chuyen.tiep@mail.example.vn")
    box = maildir(
        tmp_path / "Maildir",
        {
            "1.hard": dsn(gone, status="5.1.1"),
            # The DSN names where the mailbox forwarded to; the VERP path names our subscriber.
            "2.verp": dsn("dich@other.example.vn", to=verp_address(forwarded_id)),
            "3.reply": ordinary(),
            "4.vacation": vacation(verp_address(forwarded_id)),
            "5.broken": GARBAGE,
        },
    )

    report = await process_path(box, processor)

    assert report.counts == {
        BounceOutcome.HARD_BOUNCE: 2,
        BounceOutcome.NOT_BOUNCE: 2,
        BounceOutcome.UNREADABLE: 1,
    }
    assert await store.is_suppressed(gone)
    assert await store.is_suppressed("chuyen.tiep@mail.example.vn")
    assert not await store.is_suppressed("dich@other.example.vn")
    assert sorted(p.name for p in (box / "cur").iterdir()) == ["1.hard:2,PS", "2.verp:2,PS"]
    assert sorted(p.name for p in (box / "new").iterdir()) == [
        "3.reply",
        "4.vacation",
        "5.broken",
    ]
    printed = "\n".join(report.summary())
    assert "new/3.reply: not a bounce - Subject: 'Cảm ơn'" in printed
    assert "new/5.broken: unreadable - IndexError" in printed
    assert "Traceback" not in printed

    again = await process_path(box, processor)  # idempotent: only the left-alone ones again
    assert [r.name for r in again.results] == ["new/3.reply", "new/4.vacation", "new/5.broken"]


async def test_three_soft_bounces_suppress_the_address(
    tmp_path: Path, store: SqlSubscriberStore, processor: BounceProcessor
) -> None:
    full = "hop.thu.day@mail.example.vn"
    subscriber_id = await subscribe(store, full)
    soft = {
        n: dsn(full, status="4.2.2", action="delayed", queue_id=f"3F2A1B0{n}") for n in (1, 2, 3)
    }
    box = maildir(tmp_path / "Maildir", {"1.soft": soft[1], "2.soft": soft[2]})

    first = await process_path(box, processor)
    assert first.counts == {BounceOutcome.SOFT_BOUNCE: 2}
    assert not await store.is_suppressed(full)

    (box / "new" / "3.soft").write_bytes(soft[3])
    third = await process_path(box, processor)  # the first two are not counted again
    assert [r.name for r in third.results] == ["new/3.soft"]
    assert third.results[0].suppressed == (full,)
    assert await store.is_suppressed(full)
    assert (await store.sendable([subscriber_id])) == {}


async def test_an_abuse_complaint_unsubscribes_and_suppresses(
    tmp_path: Path, store: SqlSubscriberStore, processor: BounceProcessor
) -> None:
    email = "phan.nan@mail.example.vn"
    subscriber_id = await subscribe(store, email)
    box = maildir(tmp_path / "Maildir", {"1.arf": arf(email, verp_address(subscriber_id))})

    report = await process_path(box, processor)

    assert report.counts == {BounceOutcome.COMPLAINT: 1}
    assert report.unsubscribed == 1
    subscriber = await store.get(subscriber_id)
    assert subscriber is not None
    assert subscriber.status is SubscriberStatus.UNSUBSCRIBED
    assert await store.is_suppressed(email)
    data = await store.export_data(subscriber_id)
    assert data is not None
    assert [c["form"] for c in data["consents"] if c["action"] == "unsubscribe"] == ["complaint"]


async def test_an_mbox_is_processed_and_marked_so_a_second_run_skips_it(
    tmp_path: Path, store: SqlSubscriberStore, processor: BounceProcessor
) -> None:
    gone = "da.nghi@mail.example.vn"
    flaky = "tam.thoi@mail.example.vn"
    await subscribe(store, gone)
    await subscribe(store, flaky)
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(str(path))
    for data in (dsn(gone), dsn(flaky, status="4.2.2", action="delayed"), ordinary()):
        box.add(data)
    box.close()

    report = await process_path(path, processor)

    assert [(r.name, r.outcome) for r in report.results] == [
        ("bounces.mbox#1", BounceOutcome.HARD_BOUNCE),
        ("bounces.mbox#2", BounceOutcome.SOFT_BOUNCE),
        ("bounces.mbox#3", BounceOutcome.NOT_BOUNCE),
    ]
    assert await store.is_suppressed(gone)
    again = await process_path(path, processor)
    assert [(r.name, r.outcome) for r in again.results] == [
        ("bounces.mbox#3", BounceOutcome.NOT_BOUNCE)
    ]
    kept = mailbox.mbox(str(path))
    assert len(kept) == 3  # nothing deleted: a person can still read every message
    kept.close()


async def test_a_malformed_bounce_is_attributed_through_its_verp_address(
    tmp_path: Path, store: SqlSubscriberStore, processor: BounceProcessor
) -> None:
    email = "sai.dinh.dang@mail.example.vn"
    subscriber_id = await subscribe(store, email)
    forged = verp_address(subscriber_id).replace("bounces+", "bounces+9", 1)
    box = maildir(
        tmp_path / "Maildir",
        {
            "1.ok": malformed_bounce(verp_address(subscriber_id)),
            "2.forged": malformed_bounce(forged),
        },
    )

    report = await process_path(box, processor)

    assert [(r.name, r.outcome) for r in report.results] == [
        ("new/1.ok", BounceOutcome.HARD_BOUNCE),
        ("new/2.forged", BounceOutcome.UNRECOGNISED),
    ]
    assert report.results[0].addresses == (email,)
