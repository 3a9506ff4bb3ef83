"""The Facebook Graph API, as a page posts to it: feed and photo posts, edits, deletes.

Every request carries the page token in an `Authorization: Bearer` header (never in the
URL, which ends up in logs), goes to `{base_url}/{version}/...` with the version pinned in
the channel file, and sends form fields. Errors come back as `{"error": {"code": ...}}`
and are sorted by the codes Meta documents (docs/fanpages.md has the table).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import aiohttp

from broadcaster.fanpages.errors import Failure, PlatformError

TOKEN_CODES = {190, 102}
PERMISSION_CODES = {3, 10, *range(200, 300)}
RATE_LIMIT_CODES = {4, 17, 32, 341, 613, 80001}
TRANSIENT_CODES = {1, 2}
BLOCKED_FOR_POLICY = 368  # "temporarily blocked for policies violations": wait and retry
NO_SUCH_OBJECT = (100, 33)  # (code, subcode): the object does not exist
POLICY_WAIT = timedelta(hours=1)


class GraphClient:
    """One page's way into the Graph API."""

    def __init__(
        self, base_url: str, version: str, page_id: str, token: str, timeout: float
    ) -> None:
        self.base = f"{base_url.rstrip('/')}/{version}"
        self.page_id = page_id
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the HTTP session, closed with `stack`."""
        self.session = aiohttp.ClientSession(timeout=self.timeout)
        stack.push_async_callback(self.session.close)

    async def post_link(self, message: str, link: str) -> str:
        """POST /{page-id}/feed: a text post with the campaign's link; the post id."""
        form = {"message": message, "link": link}
        answer = await self._call("POST", self.page_id + "/feed", form)
        return str(answer["id"])

    async def post_photo(self, image_url: str, caption: str) -> str:
        """POST /{page-id}/photos: a photo post with the text as its caption; the post id."""
        answer = await self._call(
            "POST", self.page_id + "/photos", {"url": image_url, "caption": caption}
        )
        return str(answer.get("post_id") or answer["id"])

    async def edit(self, post_id: str, message: str) -> None:
        """POST /{post-id}: replace the post's text."""
        await self._call("POST", post_id, {"message": message})

    async def delete(self, post_id: str) -> None:
        """DELETE /{post-id}."""
        await self._call("DELETE", post_id, None)

    async def _call(self, method: str, path: str, form: Mapping[str, str] | None) -> dict[str, Any]:
        if self.session is None:
            raise RuntimeError("GraphClient.start() was not called")
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.request(
                method, f"{self.base}/{path}", data=form, headers=headers
            ) as response:
                raw = await response.read()
                status, usage = response.status, response.headers.get("X-Business-Use-Case-Usage")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError("Graph API", Failure.TRANSIENT, None, repr(exc)) from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status < 400 and "error" not in answer:
            return answer
        raise graph_error(status, answer.get("error"), usage)


def graph_error(status: int, error: object, usage: str | None = None) -> PlatformError:
    """What a Graph API error answer means."""
    fields = error if isinstance(error, dict) else {}
    code = fields.get("code") if isinstance(fields.get("code"), int) else None
    subcode = fields.get("error_subcode")
    message = str(fields.get("message") or f"HTTP {status}")
    if subcode is not None:
        message += f" (subcode {subcode})"
    if code in TOKEN_CODES:
        failure = Failure.TOKEN
    elif code in PERMISSION_CODES:
        failure = Failure.PERMISSION
    elif code in RATE_LIMIT_CODES:
        return PlatformError("Graph API", Failure.RATE_LIMIT, code, message, regain_after(usage))
    elif code == BLOCKED_FOR_POLICY:
        return PlatformError("Graph API", Failure.RATE_LIMIT, code, message, POLICY_WAIT)
    elif code in TRANSIENT_CODES or fields.get("is_transient") or (code is None and status >= 500):
        failure = Failure.TRANSIENT
    elif (code, subcode) == NO_SUCH_OBJECT:
        failure = Failure.GONE
    else:
        failure = Failure.REJECTED
    return PlatformError("Graph API", failure, code, message)


def regain_after(usage: str | None) -> timedelta | None:
    """The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage."""
    try:
        document = json.loads(usage) if usage else {}
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access", 0)
        for entries in (document.values() if isinstance(document, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    longest = max((m for m in minutes if isinstance(m, int | float)), default=0)
    return timedelta(minutes=longest) if longest > 0 else None
