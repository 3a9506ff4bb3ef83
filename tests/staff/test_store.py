"""The staff store on SQLite and PostgreSQL: accounts, sessions, tokens, reviews, holds, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.publishing.approval import decide
from broadcaster.staff.accounts import AccountError, Accounts
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.reviews import ReviewStore
from broadcaster.staff.tables import ReviewAction, Role
from broadcaster.store.testing import ManualClock
from broadcaster.workspace.models import ApprovalPolicy

PASSWORD = "correct horse battery"


async def test_setup_link_password_session_and_revocation(engine: AsyncEngine) -> None:
    clock = ManualClock(datetime(2021, 7, 10, tzinfo=UTC))
    accounts = Accounts(engine, clock=clock)
    user, token = await accounts.add_user("lan", Role.AUTHOR, "lan@example.gov.vn")
    assert not user.has_password
    with pytest.raises(AccountError, match="already exists"):
        await accounts.add_user("lan", Role.ADMIN)
    with pytest.raises(AccountError, match="at least 12"):
        await accounts.complete_setup(token, "short")
    await accounts.complete_setup(token, PASSWORD)
    with pytest.raises(AccountError, match="not valid"):
        await accounts.complete_setup(token, PASSWORD)  # one time only
    assert await accounts.authenticate("lan", "wrong password!") is None
    found = await accounts.authenticate("lan", PASSWORD)
    assert found is not None
    cookie, csrf = await accounts.open_session(found, "192.0.2.1")
    session = await accounts.session(cookie)
    assert session is not None
    assert session.csrf_token == csrf
    clock.advance(timedelta(minutes=1))
    await accounts.change_password(found.id, PASSWORD, "another long password")
    assert await accounts.session(cookie) is None
    await accounts.set_disabled("lan", True)
    assert await accounts.authenticate("lan", "another long password") is None


async def test_an_expired_setup_link_is_refused(engine: AsyncEngine) -> None:
    clock = ManualClock(datetime(2021, 7, 10, tzinfo=UTC))
    accounts = Accounts(engine, clock=clock)
    _, token = await accounts.add_user("minh", Role.APPROVER)
    clock.advance(timedelta(hours=73))
    with pytest.raises(AccountError, match="expired"):
        await accounts.complete_setup(token, PASSWORD)


async def test_tokens_are_scoped_and_follow_demotion(engine: AsyncEngine) -> None:
    accounts = Accounts(engine)
    await accounts.add_user("minh", Role.APPROVER)
    with pytest.raises(AccountError, match="cannot have more"):
        await accounts.issue_token("minh", Role.ADMIN, "x")
    scoped = await accounts.issue_token("minh", Role.AUTHOR, "read only")
    full = await accounts.issue_token("minh", None, "full")
    scoped_session = await accounts.token_session(scoped)
    assert scoped_session is not None
    assert scoped_session.role == Role.AUTHOR
    await accounts.set_role("minh", Role.AUTHOR)
    full_session = await accounts.token_session(full)
    assert full_session is not None
    assert full_session.role == Role.AUTHOR
    assert await accounts.revoke_tokens("minh") == 2
    assert await accounts.token_session(full) is None


async def test_reviews_holds_withdrawals_and_audit(engine: AsyncEngine) -> None:
    accounts = Accounts(engine)
    author, _ = await accounts.add_user("lan", Role.AUTHOR)
    approver, _ = await accounts.add_user("minh", Role.APPROVER)
    reviews = ReviewStore(engine)
    await reviews.record_edit("c", "r1", author.id)
    await reviews.add("c", "r1", ReviewAction.REQUESTED, author.id, "please")
    await reviews.add("c", "r1", ReviewAction.APPROVED, approver.id, None)
    verdict = decide(
        ApprovalPolicy.TWO_PERSON, await reviews.of("c", "r1"), await reviews.editors("c", "r1")
    )
    assert verdict.publishable
    assert verdict.approved_by == "minh"
    fire = datetime(2021, 7, 10, 1, tzinfo=UTC)
    assert await reviews.hold("c", "r2", "launch", fire, ["website"])
    assert not await reviews.hold("c", "r2", "launch", fire, ["website"])  # one per firing
    assert await reviews.last_held("launch") == fire
    [held] = await reviews.held(pending_only=True)
    assert held.channels == ("website",)
    await reviews.withdraw("c", "r1", approver.id, "superseded")
    assert (await reviews.withdrawals())["c"].user_name == "minh"
    audit = AuditLog(engine)
    await audit.record("minh", "review.approved", campaign_id="c", revision="r1", detail={"a": 1})
    await audit.record("=cmd", "login", ip="192.0.2.9")
    text = await audit.csv()
    assert text.splitlines()[0] == "id,at,actor,action,campaign,revision,ip,detail"
    assert "'=cmd" in text  # a spreadsheet does not run it
    entries = await audit.entries(campaign_id="c")
    assert [e.action for e in entries] == ["review.approved"]
