"""Webhook delivery to a real partner server that verifies signatures with `standardwebhooks`.

Runs on SQLite and PostgreSQL. The partner is an aiohttp server on port 0; loopback is
allowed by the test channel file only (the example workspace allows nothing private).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from broadcaster.cli.operations import status_report
from broadcaster.outbox.tables import PublicationSource, deliveries
from broadcaster.partners.commands import replay
from broadcaster.partners.store import PartnerError
from broadcaster.service import Service
from tests.partners.conftest import BASE_URL, PartnerServer, add_partner, deliver_until

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "webhook-event.schema.json").read_text()
)
CAMPAIGN = "online-submission"  # topics online-services, covid-19-measures; vi and en


async def publish(service: Service, campaign: str = CAMPAIGN) -> int:
    published = await service.publisher.publish(
        campaign, ["partners"], source=PublicationSource.CLI
    )
    return published.publication_id


async def statuses(service: Service, publication_id: int) -> dict[str, int]:
    progress = await service.outbox.progress(publication_id)
    return {str(k): v for k, v in progress.get("partners", {}).items()}


async def only_delivery(service: Service, publication_id: int) -> int:
    report = await service.outbox.progress(publication_id)
    assert sum(report["partners"].values()) == 1
    async with service.engine.connect() as conn:
        query = select(deliveries.c.id).where(deliveries.c.publication_id == publication_id)
        return int((await conn.execute(query)).scalar_one())


async def test_partner_verifies_each_event_in_each_of_its_locales(
    service: Service, partner_server: PartnerServer
) -> None:
    await add_partner(service, partner_server, "baokh")
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("baokh")) == 2)
    got = partner_server.at("baokh")
    assert all(r.verified for r in got), [r.error for r in got]
    events = sorted((r.event for r in got), key=lambda e: e["data"]["locale"])
    assert [e["data"]["locale"] for e in events] == ["en", "vi"]
    for received, document in zip(got, (r.event for r in got), strict=True):
        jsonschema.validate(document, SCHEMA)
        assert document["type"] == "publication.created"
        assert received.headers["webhook-id"].startswith("msg_")
        assert received.headers["Content-Type"] == "application/json"
    vi = events[1]["data"]
    assert vi["campaign"] == CAMPAIGN
    assert vi["reference"] == "6176/UBND-KSTT"
    assert vi["issuer"] == "UBND tỉnh Khánh Hòa"
    assert vi["url"] == "http://broadcaster.test/vi/online-submission/"
    assert vi["feeds"]["atom"] == "http://broadcaster.test/feeds/vi/all.atom"
    assert vi["radio"]["reading_seconds"] >= 5
    assert vi["radio"]["reading_time"] in vi["radio"]["script"]
    assert "<script" not in vi["body_html"]
    assert vi["body_text"]
    assert len({r.headers["webhook-id"] for r in got}) == 2
    assert await statuses(service, publication_id) == {"delivered": 2}


async def test_a_tampered_body_fails_verification(
    service: Service, partner_server: PartnerServer
) -> None:
    secret = await add_partner(service, partner_server, "baokh", locales=["vi"])
    await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("baokh")) == 1)
    (received,) = partner_server.at("baokh")
    assert received.verified
    tampered = received.body.replace(b"6176/UBND-KSTT", b"6177/UBND-KSTT")
    assert tampered != received.body
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, received.headers)
    other_secret = Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    with pytest.raises(WebhookVerificationError):
        other_secret.verify(received.body, received.headers)


async def test_500_then_200_delivers_on_retry_with_the_same_id_and_body(
    service: Service, partner_server: PartnerServer
) -> None:
    await add_partner(service, partner_server, "baokh", locales=["vi"])
    partner_server.answers["baokh"] = [500]
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("baokh")) == 2)
    first, second = partner_server.at("baokh")
    assert first.verified
    assert second.verified
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert await statuses(service, publication_id) == {"delivered": 1}
    attempts = await service.outbox.attempts(await only_delivery(service, publication_id))
    assert [a.outcome for a in attempts] == ["temporary-failure", "delivered"]
    assert attempts[0].error == "HTTP 500 Internal Server Error"


async def test_410_disables_the_partner(service: Service, partner_server: PartnerServer) -> None:
    await add_partner(service, partner_server, "gone", locales=["vi"])
    partner_server.answers["gone"] = [410]
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("gone")) == 1)
    await service.workers.run_until_idle("test")
    assert service.partners is not None
    partner = await service.partners.get("gone")
    assert not partner.enabled
    assert "410" in (partner.disabled_reason or "")
    assert await statuses(service, publication_id) == {"permanent-failure": 1}
    later = await publish(service, "support-contacts")
    assert await statuses(service, later) == {}


async def test_a_redirect_fails_without_being_followed(
    service: Service, partner_server: PartnerServer
) -> None:
    await add_partner(service, partner_server, "moved", locales=["vi"])
    partner_server.answers["moved"] = ["redirect"]
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.received) >= 1)
    await service.workers.run_until_idle("test")
    assert [r.path for r in partner_server.received] == ["/moved"]
    assert await statuses(service, publication_id) == {"permanent-failure": 1}
    delivery = await service.outbox.delivery(await only_delivery(service, publication_id))
    assert delivery is not None
    assert "HTTP 301" in (delivery.last_error or "")
    assert "not followed" in (delivery.last_error or "")


async def test_a_timeout_is_retried(service: Service, partner_server: PartnerServer) -> None:
    await add_partner(service, partner_server, "slow", locales=["vi"])
    partner_server.answers["slow"] = ["timeout"]
    partner_server.hold = 3  # the test channel gives up after 2 s
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("slow")) == 2, seconds=15)
    await deliver_until(service, lambda: _delivered(service, publication_id), seconds=5)
    first, second = partner_server.at("slow")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    attempts = await service.outbox.attempts(await only_delivery(service, publication_id))
    assert attempts[0].outcome == "temporary-failure"
    assert "within 2 s" in (attempts[0].error or "")


async def _delivered(service: Service, publication_id: int) -> bool:
    return await statuses(service, publication_id) == {"delivered": 1}


async def test_after_rotation_either_secret_verifies(
    service: Service, partner_server: PartnerServer
) -> None:
    old = await add_partner(service, partner_server, "baokh", locales=["vi"])
    assert service.partners is not None
    _, new = await service.partners.rotate("baokh")
    assert new != old
    await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("baokh")) == 1)
    (received,) = partner_server.at("baokh")
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(received.body, received.headers)
    Webhook(new).verify(received.body, received.headers)


async def test_updated_never_arrives_before_created(
    service: Service, partner_server: PartnerServer
) -> None:
    await add_partner(service, partner_server, "baokh", locales=["vi"])
    partner_server.answers["baokh"] = [503]
    first = await publish(service)
    second = await publish(service)
    await deliver_until(
        service,
        lambda: (
            [r.event["type"] for r in partner_server.at("baokh")]
            == ["publication.created", "publication.created", "publication.updated"]
        ),
    )
    assert await statuses(service, first) == {"delivered": 1}
    assert await statuses(service, second) == {"delivered": 1}
    # The later one waited without using up its attempts.
    attempts = await service.outbox.attempts(await only_delivery(service, second))
    assert [a.outcome for a in attempts] == ["delivered"]


async def test_dead_letter_shows_in_status_and_replays_with_the_same_id(
    service: Service, partner_server: PartnerServer, workspace: Path
) -> None:
    await add_partner(service, partner_server, "down", locales=["vi"])
    partner_server.answers["down"] = [500, 500, 500, 500]
    publication_id = await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("down")) == 4)
    await service.workers.run_until_idle("test")
    assert await statuses(service, publication_id) == {"permanent-failure": 1}
    (report,) = [r for r in await status_report(service.settings, 5) if r["id"] == publication_id]
    (dead,) = report["dead_letters"]
    assert dead["partner"] == "down"
    assert "gave up after 4 attempts" in dead["error"]

    partner = await replay(service.settings, service.workspace, dead["id"])
    assert partner.name == "down"
    await deliver_until(service, lambda: len(partner_server.at("down")) == 5)
    await service.workers.run_until_idle("test")
    assert await statuses(service, publication_id) == {"delivered": 1}
    ids = {r.headers["webhook-id"] for r in partner_server.at("down")}
    bodies = {r.body for r in partner_server.at("down")}
    assert len(ids) == 1
    assert len(bodies) == 1
    with pytest.raises(PartnerError, match="no webhook delivery 999999"):
        await replay(service.settings, service.workspace, 999_999)


async def test_loopback_metadata_and_private_addresses_are_refused_at_connect(
    partner_server: PartnerServer,
) -> None:
    from broadcaster.partners.sender import WebhookSender

    sender = WebhookSender(timeout=2, allow=[])
    async with contextlib.AsyncExitStack() as stack:
        await sender.start(stack)
        for url in (
            f"https://localhost:{partner_server.port}/x",
            f"http://127.0.0.1:{partner_server.port}/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/hook",
        ):
            outcome = await sender.send(url, "msg_test", b"{}", ["whsec_" + "A" * 44])
            assert isinstance(outcome, Exception)
            assert "refused by the SSRF guard" in str(outcome), str(outcome)
    assert partner_server.received == []


async def test_attachment_urls_in_the_event_are_served_by_the_website(
    service: Service, partner_server: PartnerServer, workspace: Path
) -> None:
    await add_partner(service, partner_server, "baokh", locales=["vi"])
    await service.publisher.publish(CAMPAIGN, ["website", "partners"], source=PublicationSource.CLI)
    await deliver_until(service, lambda: len(partner_server.at("baokh")) == 1)
    await service.public.flush()
    (attachment,) = partner_server.at("baokh")[0].event["data"]["attachments"]
    assert attachment["media_type"] == "application/pdf"
    path = attachment["url"].removeprefix("http://broadcaster.test/")
    served = (workspace / "public" / path).read_bytes()
    assert served.startswith(b"%PDF-")
    assert len(served) == attachment["size"]


async def test_a_withdrawal_is_signed_and_matches_the_schema(
    service: Service, partner_server: PartnerServer
) -> None:
    from broadcaster.channels.webhook import WebhookChannel
    from broadcaster.partners.payload import with_type
    from broadcaster.partners.tables import EventType
    from broadcaster.text.render import Publication

    secret = await add_partner(service, partner_server, "baokh")
    channel = service.channels["partners"]
    assert isinstance(channel, WebhookChannel)
    campaign = service.workspace.campaigns[CAMPAIGN]
    publication = Publication.prepare(service.workspace, campaign, BASE_URL, campaign.valid_from)
    created = channel.render(publication, "vi").body
    withdrawn = with_type(created, EventType.WITHDRAWN)
    outcome = await channel.sender.send(
        partner_server.url("baokh"), "msg_withdrawal-test", withdrawn, [secret]
    )
    assert outcome == "HTTP 200"
    (received,) = partner_server.at("baokh")
    assert received.verified
    assert received.event["type"] == "publication.withdrawn"
    jsonschema.validate(received.event, SCHEMA)
    assert received.event["data"] == json.loads(created)["data"]


async def test_429_waits_at_least_its_retry_after(
    service: Service, partner_server: PartnerServer
) -> None:
    await add_partner(service, partner_server, "busy", locales=["vi"])
    partner_server.answers["busy"] = [429]  # with Retry-After: 1; the schedule says 0.2 s
    await publish(service)
    await deliver_until(service, lambda: len(partner_server.at("busy")) == 2)
    first, second = partner_server.at("busy")
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) >= 1
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
