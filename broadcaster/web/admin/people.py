"""Staff accounts managed by admins from the pages and the API (the CLI has the same)."""

from __future__ import annotations

from broadcaster.staff.accounts import AccountError, Session, User
from broadcaster.staff.tables import Role
from broadcaster.web.admin.desk import DeskError, need, parts
from broadcaster.web.admin.parts import Desk


def _role(value: str) -> Role:
    if value not in {r.value for r in Role}:
        raise DeskError(422, "choose a role: author, approver or admin")
    return Role(value)


def _link(desk: Desk, token: str) -> str:
    return f"{desk.settings.base_url}/admin/setup/{token}"


async def add(
    desk: Desk, session: Session, name: str, role: str, email: str | None, ip: str | None
) -> tuple[User, str]:
    """Create a user; (the user, their one-time setup link)."""
    need(session, Role.ADMIN, "adding users")
    accounts, approvals = parts(desk)
    try:
        user, token = await accounts.add_user(name.strip(), _role(role), (email or "").strip())
    except AccountError as exc:
        raise DeskError(422, str(exc)) from None
    await approvals.audit.record(
        session.user.name, "user.added", detail={"user": user.name, "role": role}, ip=ip
    )
    return user, _link(desk, token)


async def change(
    desk: Desk,
    session: Session,
    name: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    ip: str | None,
) -> User:
    """Change a user's role, or disable or enable them; never one's own (no lock-outs)."""
    need(session, Role.ADMIN, "changing users")
    accounts, approvals = parts(desk)
    if name == session.user.name:
        raise DeskError(
            403, "you cannot change your own role or disable yourself; ask another admin"
        )
    try:
        user = None
        if role is not None:
            user = await accounts.set_role(name, _role(role))
            await approvals.audit.record(
                session.user.name, "user.role", detail={"user": name, "role": role}, ip=ip
            )
        if disabled is not None:
            user = await accounts.set_disabled(name, disabled)
            action = "user.disabled" if disabled else "user.enabled"
            await approvals.audit.record(session.user.name, action, detail={"user": name}, ip=ip)
    except AccountError as exc:
        raise DeskError(404, str(exc)) from None
    if user is None:
        raise DeskError(422, "say what to change: role or disabled")
    return user


async def new_link(desk: Desk, session: Session, name: str, ip: str | None) -> str:
    """A fresh one-time setup link (a lost password)."""
    need(session, Role.ADMIN, "resetting passwords")
    accounts, approvals = parts(desk)
    try:
        token = await accounts.new_setup_link(name)
    except AccountError as exc:
        raise DeskError(404, str(exc)) from None
    await approvals.audit.record(session.user.name, "user.setup-link", detail={"user": name}, ip=ip)
    return _link(desk, token)
