"""Withdrawing a campaign in the staff API reaches media partners as `publication.withdrawn`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema

from tests.partners.conftest import PartnerServer
from tests.web.admin.conftest import Staff, wait_delivered, wait_for

CAMPAIGN = "support-contacts"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "webhook-event.schema.json").read_text()
)


async def _add_partner(staff: Staff, server: PartnerServer, name: str, **options: object) -> None:
    assert staff.service.partners is not None
    _, secret = await staff.service.partners.add(name, server.url(name), **options)  # type: ignore[arg-type]
    server.secrets[name] = [secret]


async def _publish(staff: Staff, channels: list[str]) -> int:
    body = await staff.api("GET", f"/campaigns/{CAMPAIGN}", "ana", status=200)
    revision = body["revision"]
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/approvals", "binh", {"revision": revision}, status=201
    )
    published = await staff.api(
        "POST",
        f"/campaigns/{CAMPAIGN}/publications",
        "chi",
        {"revision": revision, "channels": channels},
        status=201,
    )
    publication: int = published["publication"]
    return publication


async def test_partners_get_withdrawn_after_created(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    await _add_partner(staff, server, "baokh", locales=["vi"])
    await _add_partner(staff, server, "other-topic", topics=["covid-19-measures"])
    publication = await _publish(staff, ["website", "feeds", "partners"])
    await wait_delivered(staff, publication, {"partners": 1})
    [created] = server.at("baokh")
    assert created.event["type"] == "publication.created"
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/withdrawal", "binh", {"reason": "Hết hiệu lực"}, status=201
    )
    await wait_for(lambda: len(server.at("baokh")) == 2)
    withdrawn = server.at("baokh")[1]
    assert withdrawn.verified, withdrawn.error
    event = withdrawn.event
    jsonschema.validate(event, SCHEMA)
    assert event["type"] == "publication.withdrawn"
    # The same entry (same id, the last revision sent), at the time it was withdrawn.
    for key in ("id", "campaign", "revision", "locale", "title", "published_at"):
        assert event["data"][key] == created.event["data"][key]
    assert datetime.fromisoformat(event["timestamp"]) >= datetime.fromisoformat(
        created.event["timestamp"]
    )
    assert withdrawn.headers["webhook-id"] != created.headers["webhook-id"]
    assert server.at("other-topic") == []  # never had it, so nothing to take back
    audit = await staff.api("GET", "/audit", "dung")
    entry = audit["entries"][0]
    assert entry["action"] == "campaign.withdrawn"
    assert entry["detail"]["partner_events"] == 1
    # The partner's log lists it as the withdrawal, after the created event (recorded a
    # moment after the partner answered).
    withdrawal = entry["detail"]["publication"]
    await wait_delivered(staff, withdrawal, {"partners": 1})
    deliveries = await staff.service.publisher.outbox.progress(withdrawal)
    assert deliveries == {"partners": {"delivered": 1}}


async def test_a_retrying_event_is_cancelled_and_the_partner_told_after_it(
    partner_staff: Staff, partner_server: PartnerServer
) -> None:
    staff, server = partner_staff, partner_server
    await _add_partner(staff, server, "radio", locales=["vi", "en"])
    server.answers["radio"] = [503] * 50  # the created events keep retrying
    publication = await _publish(staff, ["partners"])
    await wait_for(lambda: len(server.at("radio")) >= 2)
    await staff.api(
        "POST", f"/campaigns/{CAMPAIGN}/withdrawal", "binh", {"reason": "Nhầm"}, status=201
    )
    server.answers["radio"] = []  # the partner is back
    withdrawn = "publication.withdrawn"
    await wait_for(lambda: [r.event["type"] for r in server.at("radio")].count(withdrawn) == 2)
    assert all(r.verified for r in server.at("radio"))
    detail = await staff.api("GET", f"/publications/{publication}", "ana")
    # Cancelled while waiting for a retry; those in flight at that moment may still
    # finish, and then the withdrawal follows them.
    partners = detail["channels"]["partners"]
    assert partners.get("cancelled", 0) + partners.get("delivered", 0) == 2, partners
    for locale in ("vi", "en"):
        sent = [r for r in server.at("radio") if r.event["data"]["requested_locale"] == locale]
        assert sent[-1].event["type"] == withdrawn
        assert [r.event["type"] for r in sent].count(withdrawn) == 1
