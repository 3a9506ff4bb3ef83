"""The two-person rule against staff who try to get around it: a save that changes nothing,
an emergency publish that fails."""

from __future__ import annotations

from typing import Any

from tests.web.admin.conftest import ORIGIN, Staff

CAMPAIGN = "support-contacts"


async def _campaign(staff: Staff, who: str = "ana") -> Any:
    return await staff.api("GET", f"/campaigns/{CAMPAIGN}", who, status=200)


async def _status(staff: Staff) -> Any:
    return (await _campaign(staff))["status"]


async def _save(staff: Staff, who: str, revision: str, files: dict[str, str]) -> str:
    saved = await staff.api(
        "PUT", f"/campaigns/{CAMPAIGN}", who, {"revision": revision, "files": files}, status=200
    )
    new: str = saved["revision"]
    return new


async def test_a_save_that_changes_nothing_does_not_hand_over_the_editor_role(
    staff: Staff,
) -> None:
    body = await _campaign(staff)
    files = dict(body["files"])
    files["vi.md"] += "\nĐoạn văn do Bình viết.\n"
    written = await _save(staff, "binh", body["revision"], files)
    # Chi saves exactly the same files: the same revision.
    same = dict((await _campaign(staff, "chi"))["files"])
    assert await _save(staff, "chi", written, same) == written

    for who in ("binh", "chi"):  # the writer, and the one who re-saved it
        refused = await staff.api(
            "POST", f"/campaigns/{CAMPAIGN}/approvals", who, {"revision": written}, status=403
        )
        assert "you saved this revision" in refused["error"]
    assert (await _status(staff))["review"] == "draft"
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "binh", {"revision": written}, status=409
    )
    assert "is not approved" in refused["error"]

    # In the pages too: the writer signs in and tries to approve.
    assert (await staff.login("binh")).status == 303
    page = await (await staff.client.get(f"/admin/campaigns/{CAMPAIGN}")).text()
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = await staff.client.post(
        f"/admin/campaigns/{CAMPAIGN}/review",
        data={"csrf_token": csrf, "revision": written, "action": "approve"},
        headers=ORIGIN,
        allow_redirects=False,
    )
    assert answer.status == 403
    assert (await _status(staff))["publishable"] is False

    # Somebody who never saved it may approve it.
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "dung", {"revision": written}, status=201
    )
    assert (await _status(staff))["publishable"] is True


async def test_a_refused_emergency_publish_leaves_no_mark(staff: Staff) -> None:
    revision = (await _campaign(staff))["revision"]
    refused = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "binh",
        {"revision": revision, "channels": ["no-such-channel"], "emergency_reason": "Bão"},
        status=409,
    )
    assert "no channel no-such-channel" in refused["error"]
    await _nothing_released(staff, revision)


async def test_an_emergency_publish_that_fails_inside_the_publisher_leaves_no_mark(
    staff: Staff,
) -> None:
    revision = (await _campaign(staff))["revision"]
    # The files change between the page being read and the publish going out: the publisher
    # itself refuses (the revision it would send is not the one the approver saw).
    publisher = staff.service.publisher
    original = publisher.publish

    async def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        return await original(*args, **{**kwargs, "revision": "0" * 64})

    publisher.publish = changed_meanwhile  # type: ignore[method-assign]
    try:
        refused = await staff.api(
            "POST",
            f"/campaigns/{CAMPAIGN}/publications",
            "binh",
            {"revision": revision, "channels": ["website"], "emergency_reason": "Bão"},
            status=409,
        )
    finally:
        publisher.publish = original  # type: ignore[method-assign]
    assert "changed since revision" in refused["error"]
    await _nothing_released(staff, revision)


async def _nothing_released(staff: Staff, revision: str) -> None:
    body = await _status(staff)
    assert (body["review"], body["publishable"], body["emergency"]) == ("draft", False, False)
    audit = await staff.api("GET", "/audit", "dung", status=200)
    assert "publication.emergency" not in [e["action"] for e in audit["entries"]]
    # Nobody can now publish it without an approval.
    refused = await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/publications", "chi", {"revision": revision}, status=409
    )
    assert "is not approved" in refused["error"]
    assert (await staff.api("GET", "/publications", "ana"))["publications"] == []
