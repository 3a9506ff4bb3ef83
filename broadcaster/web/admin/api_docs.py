"""/admin/api/docs: the OpenAPI document as a page for people, rendered on the server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from broadcaster.web.admin.pages import render


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the page lists it."""

    method: str
    path: str
    summary: str
    role: str | None
    parameters: list[str]
    body: str | None
    responses: list[tuple[str, str]]

    @property
    def anchor(self) -> str:
        """A fragment id for linking to it."""
        cleaned = "".join(c if c.isalnum() else "-" for c in self.path.lower())
        return f"{self.method.lower()}{cleaned}".strip("-")


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every operation of `document`, in its order."""
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            found.append(
                Operation(
                    method.upper(),
                    path,
                    op.get("summary", ""),
                    op.get("x-role"),
                    [p["name"] for p in op.get("parameters", [])],
                    json.dumps(body["schema"], indent=2, ensure_ascii=False) if body else None,
                    [(code, r.get("description", "")) for code, r in op["responses"].items()],
                )
            )
    return found


def page(request: web.Request, document: dict[str, Any]) -> web.Response:
    """The page (no sign-in needed, like the JSON document)."""
    return render(request, "api_docs.html", info=document["info"], operations=operations(document))
