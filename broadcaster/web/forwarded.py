"""The visitor's address behind a reverse proxy: X-Forwarded-For, from trusted proxies only.

With BROADCASTER_TRUSTED_PROXIES set, a request whose peer is one of those proxies gets as
`request.remote` the rightmost X-Forwarded-For address that is not a trusted proxy (what
the nearest untrusted hop said it was; anything further left a visitor could have written
themselves). A request from anywhere else keeps its peer address whatever it sends. The
per-IP subscribe limit, the consent record's IP and sign-in throttling all read
`request.remote`, so they count visitors, not the proxy.

(aiohttp-remotes' XForwardedStrict refuses every request that does not come through a
proxy, health checks from the host included; this keeps them.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from aiohttp import hdrs, web

from broadcaster.settings import Network

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Set on a middleware that changes nothing a generated file's answer depends on: the static
# fast path (web/fastpath.py) may then answer those requests without it.
STATIC_SAFE = "broadcaster_static_safe"


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The visitor's address: `peer` unless it is a trusted proxy, else the rightmost
    untrusted X-Forwarded-For entry (the leftmost when every one is trusted); a malformed
    entry stops the walk at the last good address."""

    def is_trusted(address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in trusted)

    try:
        current = ip_address(peer)
    except ValueError:
        return peer
    entries = [e.strip() for value in forwarded_for for e in value.split(",") if e.strip()]
    while is_trusted(current) and entries:
        try:
            current = ip_address(entries.pop())
        except ValueError:
            break
    return str(current)


def forwarded_for(trusted: Sequence[Network]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware giving each request its visitor's address as `request.remote`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote
        if peer is None:
            return await handler(request)
        visitor = client_address(peer, request.headers.getall(hdrs.X_FORWARDED_FOR, []), trusted)
        if visitor == peer:
            return await handler(request)
        return await handler(request.clone(remote=visitor))

    setattr(middleware, STATIC_SAFE, True)  # static answers do not read request.remote
    return middleware
