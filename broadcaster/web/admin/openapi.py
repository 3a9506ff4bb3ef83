"""The OpenAPI 3.1 document of /admin/api/, built from the API's route table."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from broadcaster.staff.tables import Role


@dataclass(frozen=True)
class Route:
    """One operation of the API: what registers it and what the document says of it."""

    method: str
    path: str  # below /admin/api
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    role: Role | None = Role.AUTHOR  # None: no sign-in needed
    body: dict[str, Any] | None = None  # JSON Schema of the request body
    responses: dict[str, str] = field(default_factory=dict)


_ERROR = {
    "description": "refused; `error` says why and what to do",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}


def document(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The document: one operation per route, with parameters, body and responses."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__.strip("_")
            + "_"
            + route.method.lower()
            + re.sub(r"\W+", "_", route.path),
            "responses": {
                code: {"description": text} for code, text in (route.responses or {}).items()
            }
            or {"200": {"description": "OK"}},
        }
        operation["responses"].setdefault("4XX", _ERROR)
        if route.role is None:
            operation["security"] = []
        else:
            operation["x-role"] = str(route.role)
        names = re.findall(r"{(\w+)}", route.path)
        if names:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in names
            ]
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.body}},
            }
        paths.setdefault("/admin/api" + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Broadcaster admin API",
            "version": "1",
            "description": (
                "Everything the admin pages do. Authenticate with `Authorization: Bearer "
                "<token>` (`broadcaster users token NAME`); a token acts with its role "
                "(author < approver < admin). The two-person rule applies as in the pages."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
