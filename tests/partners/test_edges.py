"""The edges of the partner side: bounded answers and IPv6 forms that carry IPv4 addresses.

The partner is a real aiohttp server on port 0; refused endpoints are tried through the same
sender the service uses, at add time (`check_endpoint`) and at connect time (the resolver).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from broadcaster.partners.guard import (
    EndpointRefused,
    GuardedResolver,
    RefusedAddress,
    check_endpoint,
    refusal,
)
from broadcaster.partners.sender import WebhookSender

SECRETS = ["whsec_" + "A" * 44]
ANSWER_SIZE = 50 * 1024 * 1024
CHUNK = 64 * 1024


class HugeAnswer:
    """A partner that answers 200 with a 50 MB body, streamed, and counts what it wrote."""

    def __init__(self) -> None:
        self.written = 0
        self.cut_off = asyncio.Event()
        self.port = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=200)
        response.content_length = ANSWER_SIZE
        await response.prepare(request)
        chunk = b"x" * CHUNK
        try:
            while self.written < ANSWER_SIZE:
                await response.write(chunk)
                self.written += len(chunk)
        except (ConnectionError, OSError):
            self.cut_off.set()
            raise
        return response


@pytest_asyncio.fixture
async def huge() -> AsyncIterator[HugeAnswer]:
    partner = HugeAnswer()
    app = web.Application()
    app.router.add_post("/hook", partner.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    partner.port = server.sockets[0].getsockname()[1]
    yield partner
    await runner.cleanup()


async def test_an_oversized_2xx_answer_is_a_delivery_read_no_further_than_64_kb(
    huge: HugeAnswer,
) -> None:
    sender = WebhookSender(timeout=20, allow=[ipaddress.ip_network("127.0.0.0/8")])
    async with contextlib.AsyncExitStack() as stack:
        await sender.start(stack)
        outcome = await sender.send(
            f"http://127.0.0.1:{huge.port}/hook", "msg_huge", b"{}", SECRETS
        )
    assert outcome == "HTTP 200"
    # The sender closed the connection instead of reading on: the partner's writes fail
    # long before its 50 MB are out (what it did write sits in socket buffers).
    await asyncio.wait_for(huge.cut_off.wait(), 10)
    assert huge.written < ANSWER_SIZE // 4, huge.written


CARRIED = [
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
    ("::ffff:0:7f00:1", "127.0.0.1"),  # IPv4-translated
    ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64 to the metadata service
    ("64:ff9b:1::a00:1", "10.0.0.1"),  # local-use NAT64
    ("2002:7f00:1::1", "127.0.0.1"),  # 6to4
    ("2002:a00:1::1", "10.0.0.1"),  # 6to4 to a private address
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo, client 127.0.0.1
]


@pytest.mark.parametrize(("address", "carried"), CARRIED)
async def test_ipv6_forms_carrying_an_internal_ipv4_are_refused_when_added(
    address: str, carried: str
) -> None:
    with pytest.raises(EndpointRefused) as refused:
        await check_endpoint(f"https://[{address}]/hook", [])
    assert "allow_networks" in str(refused.value)
    # allow_networks covering the carried IPv4 address lets it through.
    allow = [ipaddress.ip_network(f"{carried}/32")]
    assert await check_endpoint(f"https://[{address}]/hook", allow)
    assert refusal(ipaddress.ip_address(address), allow) is None


@pytest.mark.parametrize(("address", "carried"), CARRIED)
async def test_ipv6_forms_carrying_an_internal_ipv4_are_refused_at_connect(
    address: str, carried: str
) -> None:
    sender = WebhookSender(timeout=2, allow=[])
    async with contextlib.AsyncExitStack() as stack:
        await sender.start(stack)
        outcome = await sender.send(f"https://[{address}]/hook", "msg_6", b"{}", SECRETS)
    assert isinstance(outcome, Exception)
    assert "refused by the SSRF guard" in str(outcome), outcome
    resolver = GuardedResolver([])
    try:
        with pytest.raises(RefusedAddress, match=carried):
            await resolver.resolve(address, 443, socket.AF_INET6)
    finally:
        await resolver.close()


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111", "8.8.8.8"]
)
def test_public_addresses_in_those_forms_stay_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), []) is None
