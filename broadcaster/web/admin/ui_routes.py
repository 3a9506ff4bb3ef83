"""The admin pages' routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from broadcaster.web.admin import ui, ui_account, ui_editor, ui_partners

STATIC = Path(__file__).with_name("static")


def add_ui_routes(app: web.Application) -> None:
    """Register the pages on the admin sub-application."""
    r = app.router
    r.add_get("", ui_account.home)
    r.add_get("/", ui_account.home)
    r.add_get("/login", ui_account.login_page)
    r.add_post("/login", ui_account.login)
    r.add_post("/logout", ui_account.logout)
    r.add_get("/setup/{token}", ui_account.setup_page)
    r.add_post("/setup/{token}", ui_account.setup)
    r.add_get("/account", ui_account.account_page)
    r.add_post("/account", ui_account.change_password)
    r.add_get("/campaigns", ui.campaigns)
    r.add_post("/campaigns", ui.create_campaign)
    r.add_get("/campaigns/{campaign}", ui_editor.campaign_page)
    r.add_post("/campaigns/{campaign}", ui_editor.save_campaign)
    r.add_post("/campaigns/{campaign}/draft", ui_editor.keep_draft)
    r.add_post("/campaigns/{campaign}/draft/discard", ui_editor.discard_draft)
    r.add_post("/campaigns/{campaign}/review", ui.review)
    r.add_post("/campaigns/{campaign}/publish", ui.publish)
    r.add_post("/campaigns/{campaign}/withdraw", ui.withdraw)
    r.add_post("/campaigns/{campaign}/schedule", ui.schedule)
    r.add_get("/campaigns/{campaign}/preview", ui.preview_page)
    r.add_post("/campaigns/{campaign}/preview", ui_editor.draft_preview)
    r.add_static("/static", STATIC, append_version=False)
    r.add_get("/publications", ui.publications)
    r.add_get("/publications/{publication:\\d+}", ui.publication)
    r.add_post("/publications/{publication:\\d+}/retry", ui.retry)
    r.add_post("/held/{held:\\d+}/release", ui.release)
    r.add_get("/audit", ui_account.audit)
    r.add_get("/audit.csv", ui_account.audit_csv)
    r.add_get("/users", ui_account.users)
    r.add_post("/users", ui_account.add_user)
    r.add_post("/users/{name}", ui_account.change_user)
    r.add_get("/partners", ui_partners.partners)
    r.add_post("/partners", ui_partners.add_partner)
    r.add_get("/partners/{name}", ui_partners.partner)
    r.add_post("/partners/{name}", ui_partners.change_partner)
    r.add_post("/partner-deliveries/{delivery:\\d+}/replay", ui_partners.replay)
