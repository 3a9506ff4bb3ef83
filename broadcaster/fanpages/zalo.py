"""The Zalo Official Account Open API, as an OA posts to it: articles and broadcasts.

Every request is a JSON POST to `{base_url}/{version}/...` with the OA access token in an
`access_token` header. Zalo answers HTTP 200 even when it refuses: `{"error": 0}` is
success, any other number is an error code (docs/fanpages.md has the table). An article
is made in two steps: `article/create` (or `article/update`) gives a token, and
`article/verify` turns the token into the article's id once Zalo has processed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from broadcaster.fanpages.errors import Failure, PlatformError

TOKEN_CODES = {-216, -124}  # access token invalid; access token expired
PERMISSION_CODES = {-209, -212, -224}  # API not supported / not registered / not granted
RATE_LIMIT = -32  # requests per minute exceeded
OUT_OF_QUOTA = -211  # the OA's broadcast quota is used up until it renews
PROCESSING = -214  # the article is still being processed: verify again shortly
TRANSIENT_CODES = {-1, PROCESSING}
RATE_LIMIT_WAIT = timedelta(minutes=1)
PROCESSING_WAIT = timedelta(seconds=10)
# Zalo renews quotas at midnight in Vietnam.
QUOTA_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


class ZaloClient:
    """One OA's way into the Open API."""

    def __init__(self, base_url: str, version: str, token: str, timeout: float) -> None:
        self.base = f"{base_url.rstrip('/')}/{version}"
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def start(self, stack: AsyncExitStack) -> None:
        """Open the HTTP session, closed with `stack`."""
        self.session = aiohttp.ClientSession(timeout=self.timeout)
        stack.push_async_callback(self.session.close)

    async def create_article(self, article: Mapping[str, Any]) -> str:
        """POST article/create; the token to verify."""
        return str((await self._call("article/create", article))["token"])

    async def update_article(self, article_id: str, article: Mapping[str, Any]) -> str:
        """POST article/update with the article's id; the token to verify."""
        return str((await self._call("article/update", {"id": article_id, **article}))["token"])

    async def verify(self, token: str) -> str:
        """POST article/verify; the article's id."""
        return str((await self._call("article/verify", {"token": token}))["id"])

    async def remove_article(self, article_id: str) -> None:
        """POST article/remove."""
        await self._call("article/remove", {"id": article_id})

    async def broadcast(self, article_id: str, target: Mapping[str, str]) -> str:
        """POST oa/message: the article to the OA's followers (`target` narrows them); the
        broadcast's message id."""
        message = {
            "recipient": {"target": dict(target)},
            "message": {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [{"media_type": "article", "attachment_id": article_id}],
                    },
                }
            },
        }
        return str((await self._call("oa/message", message))["message_id"])

    async def _call(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        if self.session is None:
            raise RuntimeError("ZaloClient.start() was not called")
        headers = {"access_token": self.token}
        try:
            async with self.session.post(
                f"{self.base}/{path}", json=dict(payload), headers=headers
            ) as response:
                raw, status = await response.read(), response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError("Zalo OA API", Failure.TRANSIENT, None, repr(exc)) from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        code = answer.get("error")
        if status < 400 and code == 0:
            data = answer.get("data")
            return data if isinstance(data, dict) else {}
        raise zalo_error(status, code if isinstance(code, int) else None, answer.get("message"))


def zalo_error(status: int, code: int | None, message: object) -> PlatformError:
    """What a Zalo OA API error answer means."""
    text = str(message or f"HTTP {status}")
    if code in TOKEN_CODES:
        failure = Failure.TOKEN
    elif code in PERMISSION_CODES:
        failure = Failure.PERMISSION
    elif code == RATE_LIMIT or status == 429:
        return PlatformError("Zalo OA API", Failure.RATE_LIMIT, code, text, RATE_LIMIT_WAIT)
    elif code == OUT_OF_QUOTA:
        return PlatformError("Zalo OA API", Failure.RATE_LIMIT, code, text, until_quota_renews())
    elif code in TRANSIENT_CODES:
        return PlatformError("Zalo OA API", Failure.TRANSIENT, code, text, PROCESSING_WAIT)
    elif code is None and status >= 500:
        failure = Failure.TRANSIENT
    else:
        failure = Failure.REJECTED
    return PlatformError("Zalo OA API", failure, code, text)


def until_quota_renews(now: datetime | None = None) -> timedelta:
    """How long until the next midnight in Vietnam, when Zalo renews an OA's quota."""
    local = (now or datetime.now(QUOTA_ZONE)).astimezone(QUOTA_ZONE)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    return midnight - local
