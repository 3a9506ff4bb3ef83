"""The delivery dashboard's subscriber figures and the login throttle's limits."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import update

from broadcaster.outbox.tables import deliveries
from broadcaster.store.engine import write_transaction
from broadcaster.web.admin.auth import set_cookie
from broadcaster.web.admin.throttle import Throttle
from broadcaster.web.ratelimit import Rate
from broadcaster.workspace.models import Frequency
from tests.web.admin.conftest import Staff, wait_delivered

PEOPLE = [
    ("a@example.vn", "vi", ["online-services"], Frequency.IMMEDIATE, True),
    ("b@example.vn", "en", ["online-services", "covid-19"], Frequency.DAILY, True),
    ("c@example.vn", "vi", ["covid-19"], Frequency.IMMEDIATE, True),
    ("d@example.vn", "vi", ["covid-19"], Frequency.WEEKLY, False),  # never confirmed
]


async def test_subscriber_counts_are_aggregates_without_addresses(staff: Staff) -> None:
    store = staff.service.subscribers
    assert store is not None
    for email, locale, topics, frequency, confirmed in PEOPLE:
        outcome = await store.request(
            email, locale=locale, topics=topics, frequency=frequency, ip=None, form="web"
        )
        if confirmed:
            assert outcome.subscriber_id is not None
            await store.confirm(outcome.subscriber_id, ip=None)
    counts = await staff.api("GET", "/subscribers/counts", "ana", status=200)
    assert counts == {
        "total": {"confirmed": 3},
        "topic": {"covid-19": 2, "online-services": 2},
        "language": {"en": 1, "vi": 2},
        "frequency": {"daily": 1, "immediate": 2},
    }
    staff.client.session.cookie_jar.clear()
    assert (await staff.login("ana")).status == 303
    page = await (await staff.client.get("/admin/publications")).text()
    assert "Người đăng ký (3)" in page
    assert "@example.vn" not in page


def test_login_throttle_counts_per_address_and_account() -> None:
    now = [0.0]
    throttle = Throttle(free=2, first_delay=2, address=Rate(3, 900), clock=lambda: now[0])
    for _ in range(2):
        assert throttle.wait("lan", "192.0.2.1") == 0
        throttle.failed("lan", "192.0.2.1")
    assert throttle.wait("lan", "192.0.2.1") == 2  # this address, this account: waits
    assert throttle.wait("lan", "192.0.2.2") == 0  # the same account from elsewhere: not
    assert throttle.wait("minh", "192.0.2.1") == 0  # another account from here: not
    assert throttle.wait("hoa", "192.0.2.1") > 0  # but the address's budget is spent
    assert throttle.wait("khanh", "2001:db8::1") == 0
    throttle.succeeded("lan", "192.0.2.1")
    now[0] += 900
    assert throttle.wait("lan", "192.0.2.1") == 0  # a right password starts afresh


def test_the_session_cookie_is_secure_on_https() -> None:
    plain, secure = web.Response(), web.Response()
    set_cookie(plain, "t", "http://127.0.0.1:8080")
    set_cookie(secure, "t", "https://thongtin.example.gov.vn")
    assert not plain.cookies["broadcaster_admin"]["secure"]
    assert secure.cookies["broadcaster_admin"]["secure"]
    assert secure.cookies["broadcaster_admin"]["httponly"]


async def test_failed_deliveries_are_retried_and_attempts_listed(staff: Staff) -> None:
    revision = (await staff.api("GET", "/campaigns/support-contacts", "ana"))["revision"]
    published = await staff.api(
        "POST",
        "/campaigns/support-contacts/publications",
        "binh",
        {"revision": revision, "channels": ["press-desk"], "emergency_reason": "Thử"},
        status=201,
    )
    publication = published["publication"]
    await wait_delivered(staff, publication, {"press-desk": 2})
    detail = await staff.api("GET", f"/publications/{publication}", "ana")
    assert [a["outcome"] for a in detail["attempts"]] == ["delivered", "delivered"]
    # Pretend the relay refused one for good.
    async with write_transaction(staff.service.engine) as conn:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id == detail["attempts"][0]["delivery"])
            .values(status="permanent-failure", last_error="550 mailbox unavailable")
        )
    listed = (await staff.api("GET", "/publications", "ana"))["publications"]
    assert listed[0]["status"] == "failed"
    await staff.api("POST", f"/publications/{publication}/retry", "ana", status=403)
    retried = await staff.api("POST", f"/publications/{publication}/retry", "binh", status=200)
    assert retried == {"requeued": 1}
    await wait_delivered(staff, publication, {"press-desk": 2})
    detail = await staff.api("GET", f"/publications/{publication}", "ana")
    assert len(detail["attempts"]) == 3
