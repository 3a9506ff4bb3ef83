"""The SSRF guard: partner endpoints must be public https, checked when added and at connect.

An address is refused when it is not globally routable (loopback, link-local including the
cloud metadata address 169.254.169.254, private, unique-local, shared, multicast,
unspecified, reserved, documentation ranges), unless it lies in one of the webhook channel's
`allow_networks:`. Plain http is accepted only for endpoints inside those networks.

`check_endpoint` runs when a partner is added and before each request; `GuardedResolver`
runs inside aiohttp's connector for every connection, so a DNS answer that changed since
(DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FIX = (
    "if this partner really is internal, add its network to allow_networks: "
    "in the webhook channel file"
)


class EndpointRefused(Exception):
    """An endpoint URL the guard does not allow; the message says why and what to do."""


class RefusedAddress(OSError):
    """Raised inside the connector: the host resolved only to refused addresses."""


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: Address, allow: Sequence[Network]) -> str | None:
    """Why `address` may not be connected to, or None when it may."""
    address = _plain(address)
    if any(address in network for network in allow):
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (169.254.0.0/16 holds cloud metadata services)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def parse_endpoint(url: str) -> URL:
    """The URL, if it is an absolute http(s) URL with a host; EndpointRefused otherwise."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise EndpointRefused(f"{url!r} is not a URL: {exc}") from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise EndpointRefused(
            f"{url!r} is not an https URL with a host, like https://newsroom.example.vn/hooks"
        )
    if parsed.user or parsed.password:
        raise EndpointRefused(f"{url!r}: put no user name or password in the URL")
    return parsed


async def check_endpoint(url: str, allow: Sequence[Network]) -> list[Address]:
    """Refuse (EndpointRefused) an endpoint the guard would not connect to; its addresses."""
    parsed = parse_endpoint(url)
    host = parsed.host or ""
    try:
        addresses = await resolve(host, parsed.port or 443)
    except OSError as exc:
        raise EndpointRefused(
            f"{url}: the host {host} does not resolve ({exc.strerror or exc}); check the URL"
        ) from None
    for address in addresses:
        reason = refusal(address, allow)
        if reason is not None:
            where = f"{address} is" if _literal(host) else f"{host} resolves to {address},"
            raise EndpointRefused(f"{url}: {where} {reason}; {FIX}")
    if parsed.scheme == "http" and not all(
        any(_plain(a) in network for network in allow) for a in addresses
    ):
        raise EndpointRefused(
            f"{url}: plain http is accepted only inside allow_networks; use https://"
        )
    return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the guard allows."""

    def __init__(self, allow: Sequence[Network]) -> None:
        self._allow = list(allow)
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept, refused = [], []
        for result in results:
            address = ipaddress.ip_address(result["host"])
            reason = refusal(address, self._allow)
            if reason is None:
                kept.append(result)
            else:
                refused.append(f"{address} ({reason})")
        if not kept:
            raise RefusedAddress(f"{host} resolves to {', '.join(refused)}; {FIX}")
        return kept

    async def close(self) -> None:
        await self._inner.close()
