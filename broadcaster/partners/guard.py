"""The SSRF guard: partner endpoints must be public https, checked when added and at connect.

An address is refused when it is not globally routable (loopback, link-local including the
cloud metadata address 169.254.169.254, private, unique-local, shared, multicast,
unspecified, reserved, documentation ranges), unless it lies in one of the webhook channel's
`allow_networks:`. Plain http is accepted only for endpoints inside those networks.

An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`,
6to4 `2002::/16`, Teredo `2001::/32`) is judged by the IPv4 address it carries as well:
`[64:ff9b::7f00:1]` reaches 127.0.0.1 through a NAT64 gateway, so it is refused unless
`allow_networks:` covers 127.0.0.1 (or the IPv6 address itself).

`check_endpoint` runs when a partner is added and before each request; `GuardedResolver`
runs inside aiohttp's connector for every connection, so a DNS answer that changed since
(DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from typing import Annotated

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import BeforeValidator
from yarl import URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _written_as_cidrs(value: object) -> object:
    """`10.0.0.0/8`, not a number or `true` (which ipaddress would take as an address)."""
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{item!r} is not a network; write CIDRs like 10.20.0.0/16")
    return value


# A channel's `allow_networks:` (webhooks, the WebSub hub): CIDRs this guard lets through.
AllowNetworks = Annotated[list[Network], BeforeValidator(_written_as_cidrs)]

FIX = (
    "if this partner really is internal, add its network to allow_networks: "
    "in the webhook channel file"
)


class EndpointRefused(Exception):
    """An endpoint URL the guard does not allow; the message says why and what to do."""


class RefusedAddress(OSError):
    """Raised inside the connector: the host resolved only to refused addresses."""


_COMPATIBLE = ipaddress.ip_network("::/96")  # IPv4-compatible (deprecated), ::a.b.c.d
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # IPv4-translated (SIIT)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, translated, NAT64,
    6to4, Teredo client), or None."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _COMPATIBLE and int(address) > 1:  # :: and ::1 are not IPv4 addresses
        return low32
    if address in _TRANSLATED or any(address in network for network in _NAT64):
        return low32
    return None


def allowed(address: Address, allow: Sequence[Network]) -> bool:
    """Whether `allow_networks` covers the address, or the IPv4 address it carries."""
    embedded = embedded_ipv4(address)
    return any(
        candidate in network
        for candidate in (address, embedded)
        if candidate is not None
        for network in allow
    )


def refusal(address: Address, allow: Sequence[Network]) -> str | None:
    """Why `address` may not be connected to, or None when it may."""
    if allowed(address, allow):
        return None
    embedded = embedded_ipv4(address)
    if embedded is not None:
        reason = _public_refusal(embedded)
        if reason is not None:
            return f"an IPv6 address carrying {embedded}, {reason}"
    return _public_refusal(_plain(address))


def _public_refusal(address: Address) -> str | None:
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
    if parsed.scheme == "http" and not all(allowed(a, allow) for a in addresses):
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
