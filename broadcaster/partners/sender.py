"""Sending one signed event over HTTP, and what each answer means for the delivery.

Only 2xx is success. Redirects are not followed (a 3xx is a failure: register the final
URL). 410 Gone disables the partner. 408, 429, 5xx, timeouts and dropped connections are
temporary (retried on the channel's schedule, not sooner than `Retry-After`); any other
answer is permanent. Every connection goes through the SSRF guard.

At most MAX_ANSWER bytes of an answer's body are read; the rest is left unread and the
connection closed, so a partner cannot fill the service's memory. The status alone decides
the outcome: a 2xx with a larger body is still a delivery.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp

from broadcaster.outbox.outcomes import DeliveryRejected, Outcome, RetryLater
from broadcaster.partners.guard import (
    Address,
    EndpointRefused,
    GuardedResolver,
    Network,
    RefusedAddress,
    check_endpoint,
    parse_endpoint,
)
from broadcaster.partners.secrets import signature

USER_AGENT = "Broadcaster-Webhooks/1 (+https://www.standardwebhooks.com/)"
MAX_RETRY_AFTER = timedelta(hours=24)
TEMPORARY = {408, 425, 429}
MAX_ANSWER = 64 * 1024  # bytes of a partner's answer read, at most


async def read_answer(content: aiohttp.StreamReader, limit: int = MAX_ANSWER) -> bytes:
    """At most `limit` bytes of a body (none of the rest is read)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


class Gone(DeliveryRejected):
    """The endpoint answered 410 Gone: the partner is disabled."""


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds or an HTTP date) as a wait, at most a day."""
    if not value:
        return None
    value = value.strip()
    wait: timedelta | None
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        wait = when - now
    return max(timedelta(0), min(wait, MAX_RETRY_AFTER))


def headers(msg_id: str, body: str, secrets: Sequence[str], now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (the timestamp is this attempt's)."""
    moment = now.astimezone(UTC).replace(microsecond=0)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature(secrets, msg_id, moment, body),
    }


class WebhookSender:
    """One shared aiohttp session (guarded connector) that posts signed events."""

    def __init__(self, timeout: float, allow: Sequence[Network], connections: int = 100) -> None:
        self.timeout = timeout
        self.allow = list(allow)
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._literal_checks: dict[str, str | None] = {}

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the session; it is closed when `stack` closes."""
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.allow),
            limit=self.connections,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            auto_decompress=False,
        )
        stack.push_async_callback(self.close)

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def refusal(self, url: str) -> str | None:
        """Why the guard refuses `url` before connecting, or None.

        IP literals are checked here (aiohttp does not resolve them); host names over https
        are checked by the resolver on every connection; host names over plain http are
        resolved here too, since http is allowed only inside allow_networks.
        """
        try:
            parsed = parse_endpoint(url)
        except EndpointRefused as exc:
            return str(exc)
        host = (parsed.host or "").strip("[]")
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is None and parsed.scheme == "https":
            return None
        if url in self._literal_checks:  # an IP literal's answer never changes
            return self._literal_checks[url]
        try:
            await check_endpoint(url, self.allow)
        except EndpointRefused as exc:
            reason: str | None = str(exc)
        else:
            reason = None
        if literal is not None and len(self._literal_checks) < 100_000:
            self._literal_checks[url] = reason
        return reason

    async def send(self, url: str, msg_id: str, body: bytes, secrets: Sequence[str]) -> Outcome:
        """POST one event; a receipt, RetryLater, Gone or DeliveryRejected (never raises)."""
        if self._session is None:
            return RetryLater("the webhook channel is not started")
        refused = await self.refusal(url)
        if refused is not None:
            return DeliveryRejected(f"refused by the SSRF guard: {refused}")
        now = datetime.now(UTC)
        text = body.decode()
        try:
            async with self._session.post(
                url, data=body, headers=headers(msg_id, text, secrets, now), allow_redirects=False
            ) as response:
                status = response.status
                await read_answer(response.content)
                if 200 <= status < 300:
                    return f"HTTP {status}"
                reason = f"HTTP {status} {response.reason or ''}".rstrip()
                if 300 <= status < 400:
                    location = response.headers.get("Location", "?")
                    return DeliveryRejected(
                        f"{reason}: redirect to {location} not followed; register the final URL"
                    )
                return answered(response, reason, now, "the endpoint is gone; partner disabled")
        except (aiohttp.ClientError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            return unanswered(exc, url, self.timeout)


def answered(response: aiohttp.ClientResponse, reason: str, now: datetime, gone: str) -> Outcome:
    """What a non-2xx answer to a push means: 410 Gone (`gone` says what follows), a retry
    (429, 5xx, honouring Retry-After), or a refusal."""
    status = response.status
    if status == 410:
        return Gone(f"{reason}: {gone}")
    if status in TEMPORARY or status >= 500:
        return RetryLater(reason, retry_after(response.headers.get("Retry-After"), now))
    return DeliveryRejected(reason)


def unanswered(exc: BaseException, url: str, timeout: float) -> Outcome:
    """What a push that got no answer means: refused by the SSRF guard, or a retry."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, RefusedAddress):
            return DeliveryRejected(f"refused by the SSRF guard: {exc.os_error}")
        return RetryLater(f"cannot connect to {url}: {exc.os_error}")
    if isinstance(exc, TimeoutError):
        return RetryLater(f"no answer from {url} within {timeout:g} s")
    return RetryLater(f"{url}: {type(exc).__name__}: {exc}")
