"""The WebSub hub's side of the protocol (W3C WebSub Recommendation, 2018).

- A subscription request is a form POST with `hub.mode` (`subscribe` | `unsubscribe`),
  `hub.topic`, `hub.callback`, and optionally `hub.lease_seconds` and `hub.secret` (under
  200 bytes). `parse_request` checks it; the hub answers 202 Accepted and verifies later.
- Intent verification: a GET to the callback with `hub.mode`, `hub.topic`,
  `hub.challenge` and (to subscribe) `hub.lease_seconds`; only a 2xx whose body is the
  challenge, exactly, confirms it.
- Content distribution: a POST of the whole feed, with its Content-Type, `Link:` headers
  naming the hub (`rel="hub"`) and the topic (`rel="self"`), and, when the subscriber gave
  a secret, `X-Hub-Signature: sha256=<HMAC-SHA256 of the body, hex>`. A 2xx is delivered;
  410 Gone ends the subscription; 408, 429 and 5xx are retried (not before `Retry-After`);
  any other answer is a permanent failure of that distribution.

Every request goes through the SSRF guard, exactly as webhooks to partners do
(`allow_networks:` of the feed channel's `websub:` options admits internal callbacks).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from broadcaster.outbox.outcomes import DeliveryRejected, Outcome, RetryLater
from broadcaster.partners.guard import EndpointRefused, Network, parse_endpoint
from broadcaster.partners.sender import WebhookSender, answered, read_answer, unanswered

USER_AGENT = "Broadcaster-WebSub/1 (+https://www.w3.org/TR/websub/)"
MAX_SECRET_BYTES = 199  # "MUST be less than 200 bytes"
MAX_URL = 2000
MODES = ("subscribe", "unsubscribe")


class HubRequestError(Exception):
    """A subscription request the hub refuses; the message says what to fix."""


@dataclass(frozen=True)
class LeaseLimits:
    """The lease the hub grants: `default` when none is asked, else within [minimum, maximum]."""

    default: int
    minimum: int
    maximum: int

    def grant(self, asked: int | None) -> int:
        """The lease for a request that asked for `asked` seconds (or nothing)."""
        if asked is None:
            return self.default
        return max(self.minimum, min(self.maximum, asked))


@dataclass(frozen=True)
class HubRequest:
    """A checked subscription request."""

    mode: str
    topic: str
    callback: str
    lease_seconds: int
    secret: str | None


def _one(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise HubRequestError(f"{name} is missing: send it as a form field (see docs/newsrooms.md)")
    return value


def parse_request(form: Mapping[str, str], limits: LeaseLimits) -> HubRequest:
    """The request in `form`, or HubRequestError saying which field is wrong and how."""
    mode = _one(form, "hub.mode")
    if mode not in MODES:
        raise HubRequestError(f"hub.mode must be subscribe or unsubscribe, not {mode!r}")
    topic = _one(form, "hub.topic")
    callback = _one(form, "hub.callback")
    if len(topic) > MAX_URL or len(callback) > MAX_URL:
        raise HubRequestError(f"hub.topic and hub.callback must be under {MAX_URL} characters")
    try:
        parse_endpoint(callback)
    except EndpointRefused as exc:
        raise HubRequestError(f"hub.callback: {exc}") from None
    asked: int | None = None
    raw_lease = form.get("hub.lease_seconds", "").strip()
    if raw_lease:
        if not raw_lease.isdigit():
            raise HubRequestError(
                f"hub.lease_seconds must be a whole number of seconds, not {raw_lease!r}"
            )
        asked = int(raw_lease)
    secret = form.get("hub.secret") or None
    if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
        raise HubRequestError("hub.secret must be less than 200 bytes")
    return HubRequest(mode, topic, callback, limits.grant(asked), secret)


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature` value for `body`: `sha256=` and the HMAC's hex digest."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Distribution:
    """One feed to post to one subscriber."""

    callback: str
    topic: str
    body: bytes
    content_type: str
    secret: str | None


class WebSubSender(WebhookSender):
    """The hub's HTTP client: the same guarded session as webhooks to partners."""

    def __init__(
        self, timeout: float, allow: Sequence[Network], hub_url: str, connections: int = 100
    ) -> None:
        super().__init__(timeout, allow, connections)
        self.hub_url = hub_url

    async def verify(self, request: HubRequest) -> str | None:
        """Ask the callback to confirm `request`; None when it did, else why not."""
        if self._session is None:
            return "the hub is not started"
        refused = await self.refusal(request.callback)
        if refused is not None:
            return f"refused by the SSRF guard: {refused}"
        challenge = secrets.token_urlsafe(24)
        query = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
        if request.mode == "subscribe":
            query["hub.lease_seconds"] = str(request.lease_seconds)
        url = str(parse_endpoint(request.callback).update_query(query))
        try:
            async with self._session.get(
                url, headers={"user-agent": USER_AGENT}, allow_redirects=False
            ) as response:
                body = await read_answer(response.content, 4096)
                if not 200 <= response.status < 300:
                    return f"the callback answered HTTP {response.status}"
                if body.strip() != challenge.encode():
                    return "the callback did not echo hub.challenge"
                return None
        except aiohttp.ClientConnectorError as exc:
            return f"cannot connect to the callback: {exc.os_error}"
        except TimeoutError:
            return f"no answer from the callback within {self.timeout:g} s"
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def _headers(self, item: Distribution) -> dict[str, str]:
        headers = {
            "content-type": item.content_type,
            "user-agent": USER_AGENT,
            "link": f'<{self.hub_url}>; rel="hub", <{item.topic}>; rel="self"',
        }
        if item.secret:
            headers["x-hub-signature"] = signature(item.secret, item.body)
        return headers

    async def distribute(self, item: Distribution) -> Outcome:
        """POST the feed to one subscriber; a receipt, RetryLater, Gone or DeliveryRejected."""
        if self._session is None:
            return RetryLater("the feed channel's hub is not started")
        refused = await self.refusal(item.callback)
        if refused is not None:
            return DeliveryRejected(f"refused by the SSRF guard: {refused}")
        now = datetime.now(UTC)
        try:
            async with self._session.post(
                item.callback, data=item.body, headers=self._headers(item), allow_redirects=False
            ) as response:
                status = response.status
                await read_answer(response.content)
                if 200 <= status < 300:
                    return f"HTTP {status}"
                reason = f"HTTP {status} {response.reason or ''}".rstrip()
                return answered(response, reason, now, "the subscriber is gone; subscription ended")
        except (aiohttp.ClientError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            return unanswered(exc, item.callback, self.timeout)
