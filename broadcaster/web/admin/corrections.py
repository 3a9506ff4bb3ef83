"""What staff do to a campaign already out: correct it (material or minor) or withdraw it.

A correction is published like any revision (`desk.publish`), with the staff's choice of
whether it is emailed; a withdrawal reaches every channel that tells its recipients.
"""

from __future__ import annotations

from broadcaster.outbox.tables import PublicationSource
from broadcaster.staff.accounts import Session
from broadcaster.staff.tables import Role
from broadcaster.text.notice import Correction
from broadcaster.web.admin.desk import DeskError, campaign, latest_publications, need, parts
from broadcaster.web.admin.parts import Desk


def correction_of(value: object) -> Correction:
    """`material` or `minor` (a form or JSON field), or a 422 naming the choices."""
    try:
        return Correction(str(value))
    except ValueError:
        raise DeskError(
            422, "'correction' must be 'material' (email readers) or 'minor' (no email)"
        ) from None


async def withdraw(
    desk: Desk, session: Session, campaign_id: str, reason: str, ip: str | None
) -> None:
    """Take a published campaign off every channel (approver+): the site moves it to the
    archive with a note, the feeds mark the entry withdrawn, partners that had it get
    `publication.withdrawn`."""
    need(session, Role.APPROVER, "withdrawing a campaign")
    _, approvals = parts(desk)
    found = campaign(desk, campaign_id)
    if not reason.strip():
        raise DeskError(422, "a withdrawal needs a reason; it is kept in the audit log")
    if campaign_id not in await latest_publications(desk):
        raise DeskError(409, f"campaign '{campaign_id}' was never published: nothing to withdraw")
    await approvals.reviews.withdraw(campaign_id, found.revision, session.user.id, reason.strip())
    # Partners that had it hear `publication.withdrawn`; messages still queued for it (a
    # slow email fan-out, a retrying partner) never go out.
    withdrawal = await desk.publisher.withdraw(
        campaign_id, source=PublicationSource.ADMIN, reason=reason.strip()
    )
    await approvals.audit.record(
        session.user.name,
        "campaign.withdrawn",
        campaign_id=campaign_id,
        revision=found.revision,
        detail={
            "reason": reason.strip(),
            "cancelled_deliveries": withdrawal.cancelled,
            "publication": withdrawal.publication_id,
            "partner_events": withdrawal.deliveries,
        },
        ip=ip,
    )
    await desk.refresh_public()
