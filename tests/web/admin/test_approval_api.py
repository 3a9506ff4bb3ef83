"""The role and approval matrix through /admin/api/, as staff would meet it."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes

from broadcaster.staff.tables import Role
from broadcaster.workspace.models import Schedule
from tests.web.admin.conftest import BASE_URL, Staff, wait_delivered

CAMPAIGN = "support-contacts"


async def _revision(staff: Staff, campaign: str = CAMPAIGN) -> str:
    body = await staff.api("GET", f"/campaigns/{campaign}", "ana", status=200)
    revision: str = body["revision"]
    return revision


async def _edit(staff: Staff, who: str, revision: str, extra: str) -> str:
    body = await staff.api("GET", f"/campaigns/{CAMPAIGN}", who, status=200)
    files = dict(body["files"])
    files["vi.md"] += f"\n{extra}\n"
    saved = await staff.api(
        "PUT", f"/campaigns/{CAMPAIGN}", who, {"revision": revision, "files": files}, status=200
    )
    new: str = saved["revision"]
    return new


async def test_an_author_cannot_approve_or_publish(staff: Staff) -> None:
    revision = await _revision(staff)
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "ana", {"revision": revision}, status=403
    )
    assert "approver" in refused["error"]
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "ana", {"revision": revision}, status=403
    )
    assert "approver" in refused["error"]


async def test_nobody_approves_a_revision_they_saved(staff: Staff) -> None:
    revision = await _edit(staff, "binh", await _revision(staff), "Cập nhật.")
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=403
    )
    assert "you saved this revision" in refused["error"]
    approved = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "chi", {"revision": revision}, status=201
    )
    assert approved == {"review": "approved", "publishable": True}


async def test_unapproved_publish_is_refused_and_approved_one_is_delivered(staff: Staff) -> None:
    revision = await _revision(staff)
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "binh", {"revision": revision}, status=409
    )
    assert "is not approved" in refused["error"]
    assert (await staff.api("GET", "/publications", "ana"))["publications"] == []

    await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/review-requests",
        "ana",
        {"revision": revision, "comment": "Xin duyệt"},
        status=201,
    )
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["status"] == "in-review"
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=201
    )
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "channels": ["website", "feeds"]},
        status=201,
    )
    assert published["emergency"] is False
    await wait_delivered(staff, published["publication"], {"website": 1, "feeds": 1})
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["status"] == "published"


async def test_an_edit_after_approval_needs_a_new_approval(staff: Staff) -> None:
    revision = await _revision(staff)
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=201
    )
    edited = await _edit(staff, "ana", revision, "Sửa sau khi duyệt.")
    assert edited != revision
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["review"] == "draft"
    assert rows[CAMPAIGN]["publishable"] is False
    stale = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "binh", {"revision": revision}, status=409
    )
    assert "reload it" in stale["error"]
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "binh", {"revision": edited}, status=409
    )
    assert "is not approved" in refused["error"]


async def test_a_concurrent_edit_is_refused_and_nothing_is_lost(staff: Staff) -> None:
    revision = await _revision(staff)
    mine = await _edit(staff, "ana", revision, "Ana's change.")
    body = await staff.api("GET", f"/campaigns/{CAMPAIGN}", "binh")
    files = dict(body["files"])
    files["vi.md"] += "\nBinh's change, from the old revision.\n"
    refused = await staff.api(
        "PUT",
        f"/campaigns/{CAMPAIGN}",
        "binh",
        {"revision": revision, "files": files},
        status=409,
    )
    assert "changed by someone else" in refused["error"]
    now = await staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana")
    assert now["revision"] == mine
    assert "Ana's change." in now["files"]["vi.md"]


async def test_emergency_publish_is_marked_and_needs_a_reason(staff: Staff) -> None:
    revision = await _revision(staff)
    refused = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "emergency_reason": "  "},
        status=422,
    )
    assert "needs a reason" in refused["error"]
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "channels": ["website"], "emergency_reason": "Bão số 5"},
        status=201,
    )
    assert published["emergency"] is True
    listed = (await staff.api("GET", "/publications", "ana"))["publications"]
    assert listed[0]["emergency"] is True
    audit = await staff.api("GET", "/audit", "dung", status=200)
    actions = [e["action"] for e in audit["entries"]]
    assert "publication.emergency" in actions
    assert "publication.created" in actions
    await staff.api("GET", "/audit", "binh", status=403)


async def test_a_schedule_firing_on_an_unapproved_revision_is_held(staff: Staff) -> None:
    schedule = Schedule("contacts-now", CAMPAIGN, None, None, ("website",), None, None, None, None)
    fire_time = datetime(2021, 8, 1, 1, 0, tzinfo=UTC)
    await staff.accounts.add_user("hoa", Role.APPROVER, "hoa@example.gov.vn")
    await staff.accounts.add_user("khoa", Role.AUTHOR, "khoa@example.gov.vn")
    await staff.service.publisher.fire(schedule, fire_time)
    # Approvers with an address are emailed (through the press-desk channel's Maildir).
    mail = [
        message_from_bytes(path.read_bytes())
        for path in (staff.service.settings.root / "var" / "mail").rglob("new/*")
    ]
    assert [m["To"] for m in mail] == ["hoa@example.gov.vn"]
    assert CAMPAIGN in str(mail[0]["Subject"])
    body = mail[0].get_payload(decode=True)
    assert isinstance(body, bytes)
    assert f"{BASE_URL}/admin/campaigns/{CAMPAIGN}" in body.decode()
    listed = (await staff.api("GET", "/publications", "ana"))["publications"]
    assert [(p["status"], p["campaign"], p["id"]) for p in listed] == [("held", CAMPAIGN, None)]
    audit = await staff.api("GET", "/audit", "dung")
    assert audit["entries"][0]["action"] == "publication.held"
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["held"] == 1
    # Approved afterwards, an approver sends it.
    revision = await _revision(staff)
    released = await staff.api("POST", f"/held/{listed[0]['held_id']}/release", "binh", status=409)
    assert "is not approved" in released["error"]
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "chi", {"revision": revision}, status=201
    )
    released = await staff.api("POST", f"/held/{listed[0]['held_id']}/release", "binh", status=201)
    assert released["publication"] > 0


async def test_withdrawal_moves_the_page_to_the_archive_and_marks_the_feed_entry(
    staff: Staff,
) -> None:
    revision = await _revision(staff)
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=201
    )
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "chi",
        {"revision": revision, "channels": ["website", "feeds"]},
        status=201,
    )
    await wait_delivered(staff, published["publication"], {"website": 1, "feeds": 1})
    feed = await (await staff.client.get("/feeds/vi/all.atom")).text()
    assert f"/vi/{CAMPAIGN}/" in feed
    await staff.api("POST", f"/campaigns/{CAMPAIGN}/withdrawal", "ana", {"reason": "x"}, status=403)
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/withdrawal", "binh", {"reason": "Đã hết hạn"}, status=201
    )
    archive = await (await staff.client.get("/vi/archive/")).text()
    assert f"/vi/{CAMPAIGN}/" in archive
    # The feeds keep the entry (same id), marked as withdrawn, its text replaced by the note.
    after = await (await staff.client.get("/feeds/vi/all.atom")).text()
    assert after.count("<entry>") == feed.count("<entry>")
    assert "<title>[Đã thu hồi] " in after
    assert "Thông báo này đã được thu hồi" in after
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["status"] == "withdrawn"


async def test_scheduling_from_the_api_appends_to_schedules_yaml(staff: Staff) -> None:
    path = staff.service.settings.root / "schedules.yaml"
    before = path.read_text("utf-8")
    past = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/schedules", "binh", {"at": "2021-07-10T08:00"}, status=422
    )
    assert "in the future" in past["error"]
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/schedules", "ana", {"at": "2099-01-02T08:00"}, status=403
    )
    added = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/schedules",
        "binh",
        {"at": "2099-01-02T08:00", "channels": ["website", "feeds"]},
        status=201,
    )
    assert added["schedule"] == f"{CAMPAIGN}-at-20990102-0800"
    after = path.read_text("utf-8")
    assert after.startswith(before.rstrip("\n"))  # comments and entries kept
    assert "  - id: support-contacts-at-20990102-0800\n" in after
    assert "    at: 2099-01-02T08:00:00\n" in after
    rows = {c["id"]: c for c in (await staff.api("GET", "/campaigns", "ana"))["campaigns"]}
    assert rows[CAMPAIGN]["next_fire"].startswith("2099-01-02T08:00:00+07:00")
    audit = await staff.api("GET", "/audit", "dung")
    assert audit["entries"][0]["action"] == "schedule.added"
    again = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/schedules", "binh", {"at": "2099-01-02T08:00"}, status=422
    )
    assert "exists already" in again["error"]


async def test_withdrawal_cancels_what_is_still_queued(staff: Staff) -> None:
    await staff.service.workers.stop(5)  # nothing is sent while the test looks
    revision = await _revision(staff)
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "channels": ["press-desk"], "emergency_reason": "Khẩn"},
        status=201,
    )
    assert published["deliveries"] == 2
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/withdrawal", "chi", {"reason": "Nhầm"}, status=201
    )
    detail = await staff.api("GET", f"/publications/{published['publication']}", "ana")
    assert detail["channels"]["press-desk"] == {
        "delivered": 0,
        "pending": 0,
        "retrying": 0,
        "failed": 0,
        "cancelled": 2,
    }
    audit = await staff.api("GET", "/audit", "dung")
    assert audit["entries"][0]["detail"]["cancelled_deliveries"] == 2


async def test_the_api_previews_every_rendition(staff: Staff) -> None:
    body = await staff.api("GET", f"/campaigns/{CAMPAIGN}/preview", "ana", status=200)
    assert body["revision"] == await _revision(staff)
    found = {(r["channel"], r["locale"]): r["files"] for r in body["renditions"]}
    assert set(found) == {
        (channel, locale)
        for channel in ("website", "feeds", "citizens", "press-desk", "partners")
        for locale in ("vi", "en")
    }
    assert "radio.txt" in found[("partners", "vi")]
    assert '"type": "publication.created"' in found[("partners", "en")]["webhook.json"]
    assert "<html" in found[("website", "vi")]["page.html"]
