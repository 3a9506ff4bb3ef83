"""The /admin/api/ route table: registered on the admin app and described, from the same
entries, by the OpenAPI document (a test checks the two against each other)."""

from __future__ import annotations

from aiohttp import web

from broadcaster.staff.tables import ReviewAction, Role
from broadcaster.web.admin import api_docs
from broadcaster.web.admin.api import (
    add_schedule,
    create_campaign,
    get_campaign,
    get_preview,
    list_campaigns,
    me,
    publish,
    put_campaign,
    review_handler,
    withdraw,
)
from broadcaster.web.admin.api_ops import (
    add_user,
    audit_csv,
    audit_entries,
    change_password,
    change_user,
    get_publication,
    list_publications,
    list_users,
    release_held,
    retry_publication,
    subscriber_counts,
    user_setup_link,
)
from broadcaster.web.admin.api_partners import (
    add_partner,
    change_partner,
    get_partner,
    list_partners,
    remove_partner,
    replay_delivery,
    rotate_secret,
)
from broadcaster.web.admin.openapi import Route, document


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(document(ROUTES))


async def openapi_page(request: web.Request) -> web.Response:
    return api_docs.page(request, document(ROUTES))


_REVIEW_BODY = {
    "type": "object",
    "required": ["revision"],
    "properties": {"revision": {"type": "string"}, "comment": {"type": "string"}},
}
_FILES = {"type": "object", "additionalProperties": {"type": "string"}}

NUMERIC = ("publication", "held", "delivery")
_NAMES = {"type": "array", "items": {"type": "string"}}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/openapi.json", openapi_document, "This document", role=None),
    Route("GET", "/docs", openapi_page, "This document as a page for people (HTML)", role=None),
    Route("GET", "/me", me, "Who the caller is, and the workspace's approval policy"),
    Route("GET", "/campaigns", list_campaigns, "Campaigns with status and review state"),
    Route(
        "POST",
        "/campaigns",
        create_campaign,
        "Create a campaign folder (campaigns/<id>/)",
        body={
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}, "files": _FILES},
        },
        responses={"201": "created", "409": "it exists already"},
    ),
    Route("GET", "/campaigns/{campaign}", get_campaign, "Files, revision, check problems, reviews"),
    Route(
        "PUT",
        "/campaigns/{campaign}",
        put_campaign,
        "Save the files; refused (409) when they changed since `revision`",
        body={
            "type": "object",
            "required": ["revision", "files"],
            "properties": {"revision": {"type": "string"}, "files": _FILES},
        },
        responses={"200": "saved", "409": "changed by someone else; nothing saved"},
    ),
    Route("GET", "/campaigns/{campaign}/preview", get_preview, "Every rendition of every channel"),
    Route(
        "POST",
        "/campaigns/{campaign}/review-requests",
        review_handler(ReviewAction.REQUESTED),
        "Ask for review of a revision",
        body=_REVIEW_BODY,
        responses={"201": "recorded"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/approvals",
        review_handler(ReviewAction.APPROVED),
        "Approve a revision (approver; never one's own)",
        role=Role.APPROVER,
        body=_REVIEW_BODY,
        responses={"201": "recorded", "403": "not an approver, or one's own revision"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/rejections",
        review_handler(ReviewAction.REJECTED),
        "Reject a revision with a comment (approver)",
        role=Role.APPROVER,
        body=_REVIEW_BODY,
        responses={"201": "recorded"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/publications",
        publish,
        "Publish an approved revision now; `emergency_reason` skips the second person; "
        "`correction` (material, the default, or minor) says whether a new revision of a "
        "campaign already out is emailed to those who had the earlier one",
        role=Role.APPROVER,
        body={
            "type": "object",
            "required": ["revision"],
            "properties": {
                "revision": {"type": "string"},
                "channels": {"type": "array", "items": {"type": "string"}},
                "emergency_reason": {"type": "string"},
                "correction": {"type": "string", "enum": ["material", "minor"]},
            },
        },
        responses={"201": "published", "409": "not approved, or the files changed"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/schedules",
        add_schedule,
        "Schedule a one-time publication (appended to schedules.yaml)",
        role=Role.APPROVER,
        body={
            "type": "object",
            "required": ["at"],
            "properties": {
                "at": {"type": "string", "description": "local date-time, 2021-07-10T08:00"},
                "channels": {"type": "array", "items": {"type": "string"}},
            },
        },
        responses={"201": "scheduled", "422": "in the past, or the file cannot take it"},
    ),
    Route(
        "POST",
        "/campaigns/{campaign}/withdrawal",
        withdraw,
        "Withdraw a published campaign from every channel",
        role=Role.APPROVER,
        body={
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": {"type": "string"}},
        },
        responses={"201": "withdrawn"},
    ),
    Route(
        "GET",
        "/publications",
        list_publications,
        "Publications (and held firings) with progress; `alerts`: channels that stopped",
    ),
    Route("GET", "/publications/{publication}", get_publication, "Progress and attempt log"),
    Route(
        "POST",
        "/publications/{publication}/retry",
        retry_publication,
        "Queue failed deliveries again",
        role=Role.APPROVER,
    ),
    Route(
        "POST",
        "/held/{held}/release",
        release_held,
        "Send a held firing once its revision is approved",
        role=Role.APPROVER,
        responses={"201": "published", "409": "still not approved"},
    ),
    Route(
        "GET", "/subscribers/counts", subscriber_counts, "Subscribers by topic, language, frequency"
    ),
    Route("GET", "/audit", audit_entries, "The audit log, newest first", role=Role.ADMIN),
    Route("GET", "/audit.csv", audit_csv, "The audit log as CSV", role=Role.ADMIN),
    Route("GET", "/users", list_users, "Staff accounts", role=Role.ADMIN),
    Route(
        "POST",
        "/users",
        add_user,
        "Create a user; answers their one-time setup link",
        role=Role.ADMIN,
        body={
            "type": "object",
            "required": ["name", "role"],
            "properties": {
                "name": {"type": "string"},
                "role": {"enum": ["author", "approver", "admin"]},
                "email": {"type": "string"},
            },
        },
        responses={"201": "created"},
    ),
    Route(
        "PATCH",
        "/users/{name}",
        change_user,
        "Change a user's role or disable/enable them (never one's own)",
        role=Role.ADMIN,
        body={
            "type": "object",
            "properties": {
                "role": {"enum": ["author", "approver", "admin"]},
                "disabled": {"type": "boolean"},
            },
        },
    ),
    Route(
        "POST",
        "/users/{name}/setup-link",
        user_setup_link,
        "A new one-time setup link (a lost password)",
        role=Role.ADMIN,
        responses={"201": "created"},
    ),
    Route(
        "GET",
        "/partners",
        list_partners,
        "Media partners with state and health (last delivery, the last 7 days' outcomes)",
        role=Role.ADMIN,
    ),
    Route(
        "POST",
        "/partners",
        add_partner,
        "Register a partner (URL checked by the SSRF guard); answers its secret, shown once",
        role=Role.ADMIN,
        body={
            "type": "object",
            "required": ["name", "url"],
            "properties": {
                "name": {"type": "string"},
                "url": {"type": "string", "description": "https://...; see docs/partners.md"},
                "topics": {**_NAMES, "description": "topic ids; none: every topic"},
                "locales": {**_NAMES, "description": "none: every locale"},
            },
        },
        responses={"201": "registered; `secret` is never shown again", "422": "refused"},
    ),
    Route(
        "GET",
        "/partners/{name}",
        get_partner,
        "A partner and its newest deliveries",
        role=Role.ADMIN,
    ),
    Route(
        "PATCH",
        "/partners/{name}",
        change_partner,
        "Enable or disable a partner (enabling also undoes a 410's disabling)",
        role=Role.ADMIN,
        body={
            "type": "object",
            "required": ["enabled"],
            "properties": {"enabled": {"type": "boolean"}},
        },
    ),
    Route(
        "DELETE",
        "/partners/{name}",
        remove_partner,
        "Remove a partner and its secrets (its delivery log stays)",
        role=Role.ADMIN,
    ),
    Route(
        "POST",
        "/partners/{name}/secret",
        rotate_secret,
        "A new signing secret, shown once; the old one also signs for `grace_hours` (24)",
        role=Role.ADMIN,
        body={"type": "object", "properties": {"grace_hours": {"type": "number"}}},
        responses={"201": "rotated; `secret` is never shown again"},
    ),
    Route(
        "POST",
        "/partner-deliveries/{delivery}/replay",
        replay_delivery,
        "Send a finished webhook delivery again (same webhook-id and body)",
        role=Role.ADMIN,
        responses={"201": "queued again", "409": "still queued, or the partner is disabled"},
    ),
    Route(
        "POST",
        "/password",
        change_password,
        "Change one's password; every session of the user ends",
        body={
            "type": "object",
            "required": ["current_password", "new_password"],
            "properties": {
                "current_password": {"type": "string"},
                "new_password": {"type": "string", "minLength": 12},
            },
        },
    ),
)


def add_api_routes(app: web.Application) -> None:
    """Register ROUTES under /api on the admin sub-application."""
    for route in ROUTES:
        path = route.path
        for name in NUMERIC:  # /publications/abc is a 404, not a failed int()
            path = path.replace(f"{{{name}}}", f"{{{name}:\\d+}}")
        app.router.add_route(route.method, "/api" + path, route.handler)
