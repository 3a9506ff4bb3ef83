"""What every answer of the public site carries besides its bytes: a Content-Security-Policy
and protection from framing, and the small error pages.

The pages use inline <style> and no script at all, take images only from this site, and
their forms post only to it. Nothing may frame them (`frame-ancestors 'none'`, and
X-Frame-Options DENY for older browsers), so the subscribe form on the home page cannot be
overlaid by another site; only the widget under `embed/` may be framed by other portals.
The static fast path sends the very same headers (it answers with StaticFile's bytes).
"""

from __future__ import annotations

from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'"
)
NOT_FRAMEABLE = {
    "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
FRAMEABLE = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
FRAMEABLE_PREFIX = "embed/"  # the widget other portals put in an iframe


def security_headers(path: str) -> Mapping[str, str]:
    """The CSP and framing headers for a generated file at `path` (in the public tree)."""
    return FRAMEABLE if path.startswith(FRAMEABLE_PREFIX) else NOT_FRAMEABLE


def _page(status: str, message_vi: str, message_en: str) -> bytes:
    return (
        '<!doctype html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{status}</title>\n</head>\n<body>\n<h1>{message_vi}</h1>\n"
        f'<p lang="en">{message_en}</p>\n<p><a href="/">Trang chủ / Home</a></p>\n'
        "</body>\n</html>\n"
    ).encode()


NOT_FOUND_PAGE = _page("404", "Không tìm thấy trang", "Page not found")
BAD_REQUEST_PAGE = _page("400", "Yêu cầu không hợp lệ", "Bad request")
ERROR_HEADERS = CIMultiDictProxy(
    CIMultiDict(
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            **NOT_FRAMEABLE,
        }
    )
)


FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
HUB_PATH = "websub"


def feed_links(base_url: str, path: str) -> str:
    """The `Link:` header of the feed at `path`: its WebSub hub and its own URL."""
    return f'<{base_url}/{HUB_PATH}>; rel="hub", <{base_url}/{path}>; rel="self"'
