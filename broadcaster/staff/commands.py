"""What the `users` commands do, apart from parsing arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from broadcaster.settings import Settings
from broadcaster.staff.accounts import SETUP_LINK_LIFETIME, Accounts, User
from broadcaster.staff.audit import AuditLog
from broadcaster.staff.tables import Role
from broadcaster.store import create_engine, upgrade_engine

T = TypeVar("T")
CLI_ACTOR = "cli"


def setup_url(settings: Settings, token: str) -> str:
    """The one-time link a new user sets their password at."""
    return f"{settings.base_url}/admin/setup/{token}"


def setup_hours() -> int:
    """How long a setup link stays valid, in hours."""
    return int(SETUP_LINK_LIFETIME.total_seconds() // 3600)


async def _with_accounts(
    settings: Settings, work: Callable[[Accounts, AuditLog], Awaitable[T]]
) -> T:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_engine(engine)
        return await work(Accounts(engine), AuditLog(engine))
    finally:
        await engine.dispose()


async def add_user(settings: Settings, name: str, role: Role, email: str | None) -> str:
    """Create the user; returns their setup link."""

    async def work(accounts: Accounts, audit: AuditLog) -> str:
        user, token = await accounts.add_user(name, role, email)
        await audit.record(CLI_ACTOR, "user.added", detail={"user": user.name, "role": role})
        return setup_url(settings, token)

    return await _with_accounts(settings, work)


async def reset_user(settings: Settings, name: str) -> str:
    """A new setup link for a user who lost their password."""

    async def work(accounts: Accounts, audit: AuditLog) -> str:
        token = await accounts.new_setup_link(name)
        await audit.record(CLI_ACTOR, "user.setup-link", detail={"user": name})
        return setup_url(settings, token)

    return await _with_accounts(settings, work)


async def list_users(settings: Settings) -> list[User]:
    """Every user."""

    async def work(accounts: Accounts, audit: AuditLog) -> list[User]:
        return await accounts.list_users()

    return await _with_accounts(settings, work)


async def change_user(
    settings: Settings, name: str, *, role: Role | None = None, disabled: bool | None = None
) -> User:
    """Change a user's role or disable/enable them."""

    async def work(accounts: Accounts, audit: AuditLog) -> User:
        user: User | None = None
        if role is not None:
            user = await accounts.set_role(name, role)
            await audit.record(CLI_ACTOR, "user.role", detail={"user": name, "role": role})
        if disabled is not None:
            user = await accounts.set_disabled(name, disabled)
            action = "user.disabled" if disabled else "user.enabled"
            await audit.record(CLI_ACTOR, action, detail={"user": name})
        assert user is not None
        return user

    return await _with_accounts(settings, work)


async def issue_token(settings: Settings, name: str, role: Role | None, label: str) -> str:
    """A new API bearer token for `name`."""

    async def work(accounts: Accounts, audit: AuditLog) -> str:
        token = await accounts.issue_token(name, role, label)
        await audit.record(
            CLI_ACTOR, "token.issued", detail={"user": name, "role": role, "label": label}
        )
        return token

    return await _with_accounts(settings, work)
