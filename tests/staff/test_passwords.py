"""What the service stores for a password: argon2id at its own cost, never the password.

The other tests hash at argon2's lowest cost (tests/conftest.py `quick_passwords`); this
one puts the service's hasher back."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcaster.staff import accounts as accounts_module
from broadcaster.staff.accounts import Accounts
from broadcaster.staff.tables import Role, users
from tests.conftest import SERVICE_HASHER

PASSWORD = "correct horse battery"


async def test_a_password_is_stored_as_argon2id_at_the_service_cost(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_module, "_hasher", SERVICE_HASHER)
    accounts = Accounts(engine)
    _, token = await accounts.add_user("lan", Role.AUTHOR)
    await accounts.complete_setup(token, PASSWORD)

    async with engine.connect() as conn:
        stored = (await conn.execute(select(users.c.password_hash))).scalar_one()
    # RFC 9106's second recommended profile, argon2-cffi's default: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert not PasswordHasher().check_needs_rehash(stored)
    assert await accounts.authenticate("lan", PASSWORD) is not None
    assert await accounts.authenticate("lan", PASSWORD.upper()) is None
