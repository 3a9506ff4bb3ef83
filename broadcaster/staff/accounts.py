"""Staff accounts: argon2 passwords, one-time setup links, revocable sessions, API tokens.

Only hashes of secrets are stored (sha256 of the random session, setup and API tokens;
argon2 of passwords), so a copy of the database lets nobody log in.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff.tables import Role, api_tokens, sessions, users
from broadcaster.store.engine import write_transaction

SETUP_LINK_LIFETIME = timedelta(hours=72)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 12
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


def token_hash(token: str) -> str:
    """The stored form of a random token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    email: str | None
    disabled: bool
    has_password: bool
    password_changed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    role: Role  # what this session may do (an API token may be scoped below its user)
    api: bool = False


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        id=m["id"],
        name=m["name"],
        role=Role(m["role"]),
        email=m["email"],
        disabled=bool(m["disabled"]),
        has_password=m["password_hash"] is not None,
        password_changed_at=m["password_changed_at"],
        created_at=m["created_at"],
    )


class Accounts:
    """Users, sessions and API tokens in the store."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    # --- users ----------------------------------------------------------------------------

    async def add_user(self, name: str, role: Role, email: str | None = None) -> tuple[User, str]:
        """Create a user without a password; returns it and its one-time setup token."""
        if not NAME_PATTERN.fullmatch(name):
            raise AccountError(
                f"user name {name!r}: use 2-40 lowercase letters, digits, '.', '_' or '-'"
            )
        token = secrets.token_urlsafe(32)
        now = self.clock()
        try:
            async with write_transaction(self.engine) as conn:
                await conn.execute(
                    insert(users).values(
                        name=name,
                        role=role,
                        email=email or None,
                        disabled=False,
                        created_at=now,
                        setup_token_hash=token_hash(token),
                        setup_expires_at=now + SETUP_LINK_LIFETIME,
                    )
                )
        except IntegrityError:
            raise AccountError(f"a user named {name!r} already exists") from None
        user = await self.user_by_name(name)
        assert user is not None
        return user, token

    async def new_setup_link(self, name: str) -> str:
        """A fresh one-time setup token for `name` (a lost or leaked password).

        Everything the old password gave ends with it: the password itself (nobody signs in
        until the link is used), every session and every API token."""
        user = await self._existing(name)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(
                    password_hash=None,
                    password_changed_at=now,
                    setup_token_hash=token_hash(token),
                    setup_expires_at=now + SETUP_LINK_LIFETIME,
                )
            )
            await conn.execute(delete(sessions).where(sessions.c.user_id == user.id))
            await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return token

    async def _existing(self, name: str) -> User:
        user = await self.user_by_name(name)
        if user is None:
            raise AccountError(f"no user named {name!r}; see `broadcaster users list`")
        return user

    async def user_by_name(self, name: str) -> User | None:
        """The user called `name`, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        return _user(row) if row else None

    async def user_by_id(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    async def list_users(self) -> list[User]:
        """Every user, by name."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.name))).all()
        return [_user(row) for row in rows]

    async def set_role(self, name: str, role: Role) -> User:
        """Change a user's role; their sessions end (they sign in again with the new one)."""
        user = await self._existing(name)
        async with write_transaction(self.engine) as conn:
            await conn.execute(update(users).where(users.c.id == user.id).values(role=role))
            await conn.execute(delete(sessions).where(sessions.c.user_id == user.id))
        return await self._existing(name)

    async def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable (every session and token stops working) or enable a user."""
        user = await self._existing(name)
        async with write_transaction(self.engine) as conn:
            await conn.execute(update(users).where(users.c.id == user.id).values(disabled=disabled))
            if disabled:
                await conn.execute(delete(sessions).where(sessions.c.user_id == user.id))
        return await self._existing(name)

    # --- passwords ------------------------------------------------------------------------

    async def complete_setup(self, token: str, password: str) -> User:
        """Set the password of the user whose setup link this is; the link is used up."""
        _check_password(password)
        now = self.clock()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(users).where(users.c.setup_token_hash == token_hash(token))
                )
            ).first()
        if row is None:
            raise AccountError(
                "this setup link is not valid (used already?); ask an admin for a new one"
            )
        expires = row._mapping["setup_expires_at"]
        if expires is None or expires <= now:
            raise AccountError("this setup link has expired; ask an admin for a new one")
        await self._store_password(row._mapping["id"], password, clear_setup=True)
        user = await self.user_by_id(row._mapping["id"])
        assert user is not None
        return user

    async def change_password(self, user_id: int, old: str, new: str) -> None:
        """Change a password; every session of the user ends, including the current one."""
        if not await self._password_matches(user_id, old):
            raise AccountError("the current password is not right")
        _check_password(new)
        await self._store_password(user_id, new, clear_setup=False)

    async def _store_password(self, user_id: int, password: str, *, clear_setup: bool) -> None:
        values: dict[str, object] = {
            "password_hash": await asyncio.to_thread(_hasher.hash, password),
            "password_changed_at": self.clock(),
        }
        if clear_setup:
            values |= {"setup_token_hash": None, "setup_expires_at": None}
        async with write_transaction(self.engine) as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(**values))
            await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

    async def _password_matches(self, user_id: int, password: str) -> bool:
        async with self.engine.connect() as conn:
            stored = (
                await conn.execute(select(users.c.password_hash).where(users.c.id == user_id))
            ).scalar_one_or_none()
        return stored is not None and await _verify(stored, password)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user when `name` and `password` match an enabled account, else None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        if row is None or row._mapping["password_hash"] is None:
            # The same work either way: no timing hint of who exists.
            await asyncio.to_thread(_hasher.hash, password)
            return None
        if not await _verify(row._mapping["password_hash"], password):
            return None
        user = _user(row)
        return None if user.disabled else user

    # --- sessions -------------------------------------------------------------------------

    async def open_session(self, user: User, ip: str | None) -> tuple[str, str]:
        """A new session for `user`: (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                insert(sessions).values(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                    ip=ip,
                )
            )
        return token, csrf

    async def session(self, token: str) -> Session | None:
        """The live session behind a cookie token, or None (unknown, expired, revoked)."""
        now = self.clock()
        query = (
            select(
                users,
                sessions.c.csrf_token,
                sessions.c.expires_at,
                sessions.c.created_at.label("opened"),
            )
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_hash == token_hash(token))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row._mapping["expires_at"] <= now:
            return None
        user = _user(row)
        changed = user.password_changed_at
        if user.disabled or (changed is not None and row._mapping["opened"] < changed):
            return None
        return Session(user, row._mapping["csrf_token"], user.role)

    async def close_session(self, token: str) -> None:
        """Sign out: forget the session."""
        async with write_transaction(self.engine) as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash(token)))

    # --- API tokens -----------------------------------------------------------------------

    async def issue_token(self, name: str, role: Role | None, label: str) -> str:
        """A bearer token acting as `name`, scoped to `role` (at most the user's own)."""
        user = await self._existing(name)
        scope = role or user.role
        if not user.role.allows(scope):
            raise AccountError(f"{name} is {user.role}: a token cannot have more ({scope})")
        token = "bc_" + secrets.token_urlsafe(32)
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                insert(api_tokens).values(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    role=scope,
                    label=label,
                    created_at=self.clock(),
                )
            )
        return token

    async def token_session(self, token: str) -> Session | None:
        """The session a bearer token stands for, or None (unknown, revoked, disabled)."""
        query = (
            select(users, api_tokens.c.role.label("scope"), api_tokens.c.revoked_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash(token))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row._mapping["revoked_at"] is not None:
            return None
        user = _user(row)
        if user.disabled:
            return None
        scope = Role(row._mapping["scope"])
        # A user demoted since the token was issued keeps only their current role.
        role = scope if user.role.allows(scope) else user.role
        return Session(user, "", role, api=True)

    async def revoke_tokens(self, name: str) -> int:
        """Revoke every API token of `name`; returns how many."""
        user = await self._existing(name)
        async with write_transaction(self.engine) as conn:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return int(result.rowcount or 0)


async def _verify(stored: str, password: str) -> bool:
    """argon2 takes tens of milliseconds on purpose: in a thread, so the event loop (and
    every other request) does not wait for it."""
    return await asyncio.to_thread(_verify_now, stored, password)


def _verify_now(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
