"""What staff do to campaigns, shared by the admin UI and the JSON API.

Every action checks the role, applies the approval rule (publishing/approval.py) and leaves an
audit entry. Errors a person can cause raise DeskError with a status and a plain message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from broadcaster.outbox.tables import PublicationSource
from broadcaster.publishing.approval import Approvals, NotApproved, Verdict
from broadcaster.publishing.publisher import PublishError
from broadcaster.staff.accounts import Accounts, Session
from broadcaster.staff.reviews import Review
from broadcaster.staff.tables import ReviewAction, Role
from broadcaster.store.locks import workspace_lock
from broadcaster.text.notice import Correction
from broadcaster.web.admin import editor, scheduling
from broadcaster.web.admin.parts import Desk
from broadcaster.workspace.models import Campaign


class DeskError(Exception):
    """A staff request refused; `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CampaignRow:
    id: str
    title: str
    revision: str
    status: str  # draft, in-review, approved, scheduled, published, expired, withdrawn
    review: Verdict
    published_revision: str | None
    next_fire: datetime | None
    locales: tuple[str, ...] = field(default=())
    held: int = 0  # schedule firings held for approval, not yet sent


def parts(desk: Desk) -> tuple[Accounts, Approvals]:
    """The staff store: accounts and the approval rule."""
    return desk.accounts, desk.approvals


def need(session: Session, role: Role, what: str) -> None:
    """Refuse unless the session's role allows `role`."""
    if not session.role.allows(role):
        raise DeskError(403, f"{what} needs the {role} role; you are {session.role}")


def campaign(desk: Desk, campaign_id: str) -> Campaign:
    """A campaign of the running workspace, or 404."""
    if (found := desk.workspace.campaigns.get(campaign_id)) is None:
        raise DeskError(404, f"no campaign '{campaign_id}' (or its files have errors: see check)")
    return found


def _current(desk: Desk, campaign_id: str, revision: str) -> Campaign:
    found = campaign(desk, campaign_id)
    on_disk = editor.current_revision(desk.settings.root, campaign_id)
    if revision == found.revision and (held := desk.live.quarantined(campaign_id)):
        raise DeskError(409, held.refusal())
    if revision != found.revision or on_disk != found.revision:
        raise DeskError(
            409,
            f"campaign '{campaign_id}' is now at revision {(on_disk or found.revision)[:12]}, "
            f"not {revision[:12]}: reload it and review what changed",
        )
    return found


async def latest_publications(desk: Desk) -> dict[str, tuple[str, datetime]]:
    return await desk.outbox.latest_revisions(limit=5000)


async def campaign_rows(desk: Desk) -> list[CampaignRow]:
    """Every campaign of the workspace with its status."""
    _, approvals = parts(desk)
    workspace = desk.workspace
    latest = await latest_publications(desk)
    withdrawals = await approvals.reviews.withdrawals()
    held: dict[str, int] = {}
    for hold in await approvals.reviews.held(pending_only=True, limit=1000):
        held[hold.campaign_id] = held.get(hold.campaign_id, 0) + 1
    next_fire = desk.scheduler.next_fire_times() if desk.scheduler else {}
    now = datetime.now(UTC)
    rows = []
    for c in workspace.campaigns.values():
        verdict = await approvals.verdict(workspace.approval, c.id, c.revision)
        published = latest.get(c.id)
        upcoming = [
            t
            for s in workspace.schedules
            if s.campaign == c.id and (t := next_fire.get(s.id)) is not None
        ]
        gone = withdrawals.get(c.id)
        if published and gone and gone.at >= published[1]:
            status = "withdrawn"
        elif c.expires is not None and c.expires <= now:
            status = "expired"
        elif published and published[0] == c.revision:
            status = "published"
        elif verdict.publishable and verdict.state != "not-required" and upcoming:
            status = "scheduled"
        elif verdict.state in ("approved", "emergency"):
            status = "approved"
        elif verdict.state == "in-review":
            status = "in-review"
        else:
            status = "draft"
        rows.append(
            CampaignRow(
                c.id,
                c.doc("vi").title,
                c.revision,
                status,
                verdict,
                published[0] if published else None,
                min(upcoming) if upcoming else None,
                c.locales,
                held.get(c.id, 0),
            )
        )
    return rows


async def row(desk: Desk, campaign_id: str) -> CampaignRow:
    """One campaign's status row."""
    for found in await campaign_rows(desk):
        if found.id == campaign_id:
            return found
    raise DeskError(404, f"no campaign '{campaign_id}'")


async def save(
    desk: Desk,
    session: Session,
    campaign_id: str,
    base: str | None,
    files: dict[str, str],
    ip: str | None,
    attachments: tuple[dict[str, bytes], Sequence[str]] = ({}, ()),  # (added, removed)
) -> str:
    """Write the campaign's files and attachments (author+); returns the new revision."""
    uploads, removals = attachments
    need(session, Role.AUTHOR, "editing a campaign")
    root, approvals = desk.settings.root, desk.approvals
    try:
        # Other nodes may write the same shared folder: one save at a time across them.
        async with workspace_lock(desk.engine):
            revision = await editor.save_files(root, campaign_id, base, files, uploads, removals)
    except editor.EditConflict as exc:
        raise DeskError(409, str(exc)) from None
    except editor.EditRefused as exc:
        raise DeskError(422, str(exc)) from None
    await approvals.reviews.record_edit(campaign_id, revision, session.user.id)
    await approvals.audit.record(
        session.user.name,
        "campaign.created" if base is None else "campaign.edited",
        campaign_id=campaign_id,
        revision=revision,
        detail={"from": base},
        ip=ip,
    )
    await desk.reload()
    return revision


async def review(
    desk: Desk,
    session: Session,
    campaign_id: str,
    revision: str,
    action: ReviewAction,
    comment: str | None,
    ip: str | None,
) -> Verdict:
    """Request review (author+), approve or reject (approver+, never one's own revision)."""
    _, approvals = parts(desk)
    comment = (comment or "").strip() or None
    if action == ReviewAction.REQUESTED:
        need(session, Role.AUTHOR, "asking for review")
    else:
        need(session, Role.APPROVER, "approving or rejecting a revision")
    found = _current(desk, campaign_id, revision)
    if action == ReviewAction.REJECTED and not comment:
        raise DeskError(422, "say what needs to change: a rejection needs a comment")
    if action == ReviewAction.APPROVED and session.user.id in await approvals.reviews.editors(
        campaign_id, found.revision
    ):
        raise DeskError(
            403,
            "you saved this revision (a save that changed nothing counts too), so you cannot "
            "approve it: the two-person rule needs an approver who never saved it",
        )
    await approvals.reviews.add(campaign_id, found.revision, action, session.user.id, comment)
    await approvals.audit.record(
        session.user.name,
        f"review.{action}",
        campaign_id=campaign_id,
        revision=found.revision,
        detail={"comment": comment} if comment else {},
        ip=ip,
    )
    return await approvals.verdict(desk.workspace.approval, campaign_id, found.revision)


async def publish(
    desk: Desk,
    session: Session,
    campaign_id: str,
    revision: str,
    channels: Sequence[str] | None,
    emergency_reason: str | None,
    ip: str | None,
    correction: Correction = Correction.MATERIAL,
) -> dict[str, Any]:
    """Publish an approved revision now (approver+); a refused emergency leaves no mark.

    When an earlier revision is out, this is a correction; `correction` says whether it
    is emailed to those who had the earlier one (material) or not (minor)."""
    need(session, Role.APPROVER, "publishing")
    _, approvals = parts(desk)
    found = _current(desk, campaign_id, revision)
    names = list(channels) if channels else list(desk.channels)
    reason = (emergency_reason or "").strip()
    if emergency_reason is not None and not reason:
        raise DeskError(422, "an emergency publish needs a reason; it is reviewed afterwards")
    unknown = [name for name in names if name not in desk.channels]
    if unknown:
        raise DeskError(409, f"no channel {', '.join(unknown)} in channels/")
    mark, marked_at = None, datetime.now(UTC)
    if reason:
        mark = await approvals.reviews.add(
            campaign_id, found.revision, ReviewAction.EMERGENCY, session.user.id, reason
        )
    try:
        published = await desk.publisher.publish(
            campaign_id,
            names,
            source=PublicationSource.ADMIN,
            actor=session.user.name,
            revision=found.revision,
            correction=correction,
        )
    except PublishError as exc:  # refused before anything was created
        if mark is not None:
            await approvals.reviews.retract_emergency(mark)
        raise DeskError(409, str(exc)) from None
    except Exception:
        if mark is not None and not await _went_out(desk, campaign_id, found.revision, marked_at):
            await approvals.reviews.retract_emergency(mark)
        raise
    if reason:
        await approvals.audit.record(
            session.user.name,
            "publication.emergency",
            campaign_id=campaign_id,
            revision=found.revision,
            detail={"reason": reason, "publication": published.publication_id},
            ip=ip,
        )
    return {
        "publication": published.publication_id,
        "deliveries": published.deliveries,
        "emergency": bool(reason),
    }


async def _went_out(desk: Desk, campaign_id: str, revision: str, since: datetime) -> bool:
    """Whether a publish that failed part way created a publication of `revision` anyway."""
    latest = (await latest_publications(desk)).get(campaign_id)
    return latest is not None and latest[0] == revision and latest[1] >= since


async def release_held(desk: Desk, session: Session, held_id: int, ip: str | None) -> int:
    """Send a held firing now that its revision is approved (approver+)."""
    need(session, Role.APPROVER, "releasing a held publication")
    _, approvals = parts(desk)
    held = next((h for h in await approvals.reviews.held(limit=1000) if h.id == held_id), None)
    if held is None or held.released_publication_id is not None:
        raise DeskError(404, f"no held publication {held_id} waiting")
    found = campaign(desk, held.campaign_id)
    try:
        await approvals.require(desk.workspace.approval, found.id, found.revision)
        published = await desk.publisher.publish(
            found.id,
            [c for c in held.channels if c in desk.channels],
            source=PublicationSource.ADMIN,
            actor=session.user.name,
        )
    except (NotApproved, PublishError) as exc:
        raise DeskError(409, str(exc)) from None
    await approvals.reviews.mark_released(held_id, published.publication_id)
    await approvals.audit.record(
        session.user.name,
        "publication.released",
        campaign_id=found.id,
        revision=found.revision,
        detail={"held": held_id, "publication": published.publication_id},
        ip=ip,
    )
    return published.publication_id


async def schedule(
    desk: Desk,
    session: Session,
    campaign_id: str,
    at: str,
    channels: Sequence[str] | None,
    ip: str | None,
) -> str:
    """Add a one-time schedule for the campaign (approver+); it fires through the approval
    rule like any other (an unapproved revision is held, not sent)."""
    need(session, Role.APPROVER, "scheduling")
    _, approvals = parts(desk)
    found = campaign(desk, campaign_id)
    tz = desk.workspace.timezone
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        raise DeskError(422, f"{at!r} is not a date and time; write 2021-07-10T08:00") from None
    when = when.replace(tzinfo=tz) if when.tzinfo is None else when.astimezone(tz)
    names = list(channels) if channels else list(desk.channels)
    unknown = [name for name in names if name not in desk.channels]
    if unknown:
        raise DeskError(422, f"no channel {', '.join(unknown)} in channels/")
    try:
        async with workspace_lock(desk.engine):
            args = (desk.settings.root, desk.settings, found.id, when, names, datetime.now(tz))
            schedule_id = await asyncio.to_thread(scheduling.add_one_time, *args)
    except scheduling.ScheduleRefused as exc:
        raise DeskError(422, str(exc)) from None
    await approvals.audit.record(
        session.user.name,
        "schedule.added",
        campaign_id=found.id,
        revision=found.revision,
        detail={"schedule": schedule_id, "at": when.isoformat(), "channels": names},
        ip=ip,
    )
    await desk.reload()
    return schedule_id


async def emergencies(desk: Desk, limit: int = 20) -> list[tuple[Review, str | None]]:
    """Emergency publishes, newest first, each with who approved the revision afterwards
    (the review after the fact; None while nobody has)."""
    _, approvals = parts(desk)
    return [
        (emergency, await approvals.reviews.reviewer_of(emergency))
        for emergency in await approvals.reviews.emergencies(limit)
    ]
