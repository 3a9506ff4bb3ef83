"""The two-person rule, in one place: when may a campaign revision go out?

A revision (the hash of a campaign's files) is publishable when the workspace policy is
`none`, or when an approver other than its last editor approved that exact revision and
nobody rejected it since, or when an approver released it as an emergency with a reason.
Any edit makes a new revision, which starts unapproved.

The editors of a revision are everyone who saved it through the admin UI or API, at any
time: a save that changes nothing (the same files, so the same revision) makes the one who
saved an editor too, and never removes an earlier one. A revision written outside them (git,
a text editor) has no recorded editor: then any approver's approval counts. Nobody who saved
a revision can approve it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from broadcaster.staff.audit import AuditLog
from broadcaster.staff.reviews import Review, ReviewStore
from broadcaster.staff.tables import ReviewAction
from broadcaster.workspace.models import ApprovalPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """Whether a revision may go out, and the review state shown to staff."""

    publishable: bool
    # draft | in-review | rejected | approved | emergency | not-required
    state: str
    reason: str
    approved_by: str | None = None
    emergency: bool = False


def decide(
    policy: ApprovalPolicy, revision_reviews: Sequence[Review], editors: Collection[int]
) -> Verdict:
    """The rule itself: pure, so it is tested on its own and used by every path."""
    decisive = [
        r
        for r in revision_reviews
        if r.action != ReviewAction.REQUESTED
        and not (r.action == ReviewAction.APPROVED and r.user_id in editors)
    ]
    latest = decisive[-1] if decisive else None
    requested = any(r.action == ReviewAction.REQUESTED for r in revision_reviews)
    if latest is not None and latest.action == ReviewAction.EMERGENCY:
        return Verdict(True, "emergency", "released as an emergency", latest.user_name, True)
    if latest is not None and latest.action == ReviewAction.APPROVED:
        return Verdict(True, "approved", "approved", latest.user_name)
    rejected = latest is not None and latest.action == ReviewAction.REJECTED
    if policy == ApprovalPolicy.NONE:
        # Nothing is required, but a colleague's rejection stays visible.
        state = "rejected" if rejected else "not-required"
        return Verdict(True, state, "the workspace policy is approval: none")
    if latest is not None and rejected:
        return Verdict(False, "rejected", f"changes requested: {latest.comment or ''}".strip())
    if requested:
        return Verdict(False, "in-review", "waiting for an approver")
    return Verdict(False, "draft", "nobody has approved this revision")


class NotApproved(Exception):
    """A publish of a revision the policy does not allow yet; the message says what to do."""


class Approvals:
    """The rule applied to the store: used by the publisher, the API and the UI."""

    def __init__(
        self,
        reviews: ReviewStore,
        audit: AuditLog,
        notify: Callable[[str, str], Awaitable[int]] | None = None,
    ) -> None:
        self.reviews = reviews
        self.audit = audit
        # Tells approvers (subject, text) -> how many were told; None: the log only.
        self.notify = notify

    async def verdict(self, policy: ApprovalPolicy, campaign_id: str, revision: str) -> Verdict:
        """The verdict on one revision."""
        return decide(
            policy,
            await self.reviews.of(campaign_id, revision),
            await self.reviews.editors(campaign_id, revision),
        )

    async def require(self, policy: ApprovalPolicy, campaign_id: str, revision: str) -> Verdict:
        """The verdict, or NotApproved with what to do about it."""
        verdict = await self.verdict(policy, campaign_id, revision)
        if not verdict.publishable:
            raise NotApproved(
                f"campaign '{campaign_id}' revision {revision[:12]} is not approved "
                f"({verdict.reason}); the workspace policy is approval: two-person "
                "(workspace.yaml). Ask an approver who did not save it to approve "
                f"it at /admin/campaigns/{campaign_id}, then publish again."
            )
        return verdict

    async def hold(
        self,
        campaign_id: str,
        revision: str,
        schedule_id: str,
        fire_time: datetime,
        channels: Sequence[str],
        verdict: Verdict,
    ) -> None:
        """A schedule fired on an unapproved revision: keep it, visible and unsent."""
        if not await self.reviews.hold(campaign_id, revision, schedule_id, fire_time, channels):
            return  # another process held this firing already
        log.warning(
            "schedule %s fired on campaign %s revision %s, which is not approved (%s): "
            "held, not sent. Approvers: review it at /admin/campaigns/%s",
            schedule_id,
            campaign_id,
            revision[:12],
            verdict.reason,
            campaign_id,
        )
        told = 0
        if self.notify is not None:
            try:
                told = await self.notify(
                    f"Chờ phê duyệt / Approval needed: {campaign_id}",
                    f"Lịch {schedule_id} đến giờ ({fire_time.isoformat()}) nhưng chiến dịch "
                    f"{campaign_id} (phiên bản {revision[:12]}) chưa được phê duyệt, nên chưa "
                    "gửi.\n"
                    f"Schedule {schedule_id} fired at {fire_time.isoformat()}, but campaign "
                    f"{campaign_id} (revision {revision[:12]}) is not approved: it was held, "
                    "not sent.\n\n"
                    f"/admin/campaigns/{campaign_id}\n",
                )
            except Exception:
                log.exception("could not email approvers about the held publication")
        await self.audit.record(
            "scheduler",
            "publication.held",
            campaign_id=campaign_id,
            revision=revision,
            detail={
                "schedule": schedule_id,
                "fire_time": fire_time.isoformat(),
                "reason": verdict.reason,
                "approvers_emailed": told,
            },
        )
