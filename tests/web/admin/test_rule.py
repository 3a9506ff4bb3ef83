"""The two-person rule itself (broadcaster.publishing.approval.decide), case by case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broadcaster.publishing.approval import decide
from broadcaster.staff.reviews import Review
from broadcaster.staff.tables import ReviewAction
from broadcaster.workspace.models import ApprovalPolicy

AT = datetime(2021, 7, 10, tzinfo=UTC)
LAN, MINH, HOA = 1, 2, 3
NAMES = {LAN: "lan", MINH: "minh", HOA: "hoa"}


def _r(action: ReviewAction, user: int, comment: str | None = None) -> Review:
    return Review(0, "c", "r", action, user, NAMES[user], comment, AT)


R, A, X, E = (
    ReviewAction.REQUESTED,
    ReviewAction.APPROVED,
    ReviewAction.REJECTED,
    ReviewAction.EMERGENCY,
)


@pytest.mark.parametrize(
    ("reviews", "editor", "state", "publishable"),
    [
        ([], LAN, "draft", False),
        ([_r(R, LAN)], LAN, "in-review", False),
        ([_r(R, LAN), _r(A, MINH)], LAN, "approved", True),
        ([_r(A, LAN)], LAN, "draft", False),  # one's own approval never counts
        ([_r(A, MINH)], None, "approved", True),  # edited outside the UI: any approver
        ([_r(A, MINH), _r(X, HOA, "sai số")], LAN, "rejected", False),
        ([_r(X, HOA, "sai"), _r(A, MINH)], LAN, "approved", True),
        ([_r(E, MINH, "bão")], MINH, "emergency", True),
    ],
)
def test_two_person(
    reviews: list[Review], editor: int | None, state: str, publishable: bool
) -> None:
    verdict = decide(ApprovalPolicy.TWO_PERSON, reviews, set() if editor is None else {editor})
    assert (verdict.state, verdict.publishable) == (state, publishable)


def test_policy_none_publishes_without_review_but_keeps_a_rejection_visible() -> None:
    assert decide(ApprovalPolicy.NONE, [], {LAN}).publishable
    assert decide(ApprovalPolicy.NONE, [], {LAN}).state == "not-required"
    assert decide(ApprovalPolicy.NONE, [_r(A, MINH)], {LAN}).state == "approved"
    rejected = decide(ApprovalPolicy.NONE, [_r(X, MINH, "sai")], {LAN})
    assert (rejected.state, rejected.publishable) == ("rejected", True)
