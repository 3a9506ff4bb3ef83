"""The campaign editor's pages: the form (the default view) and the raw files ("Advanced").

Both post to the same address and write the same files through `desk.save`, so revisions,
`check`, git and the two-person rule see no difference. Nothing typed is lost: a save that
arrives after the session expired is kept as a draft and given back after signing in; a
save over a colleague's newer revision shows both versions instead of overwriting.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from broadcaster.staff.drafts import DraftRefused, Drafts
from broadcaster.staff.tables import Role
from broadcaster.web.admin import campaign_form as cf
from broadcaster.web.admin import desk, editor, messages, uploads
from broadcaster.web.admin import drafts as drafts_preview
from broadcaster.web.admin.auth import COOKIE, client_ip, current
from broadcaster.web.admin.pages import language, render
from broadcaster.web.admin.parts import Desk
from broadcaster.web.admin.ui import back, expired_at, signed_in
from broadcaster.web.admin.ui_editor_parts import snippets
from broadcaster.workspace.models import Priority

FORM = "form"
DRAFT_COOKIE = "broadcaster_draft"
KEPT_TOKEN = web.RequestKey("kept_draft_token", str)
KEPT = ("csrf_token", "upload")  # fields never kept in a draft


SAVES = re.compile(r"^/admin/campaigns/[a-z0-9][a-z0-9-]{0,79}(/draft)?$")


def keeps_text(request: web.Request) -> bool:
    """Whether a request is an editor's save or autosave, whose text is kept rather than
    refused when its session ended (auth.py's middleware asks)."""
    return request.method == "POST" and SAVES.fullmatch(request.path) is not None


def _pairs(post: MultiDictProxy[Any]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in post.items() if isinstance(v, str) and k not in KEPT]


def _files_of(
    mode: str, post: MultiDict[str] | MultiDictProxy[Any], staff_desk: Desk, campaign_id: str
) -> dict[str, str]:
    """The files a posted editor would write (the form's fields written into the files)."""
    if mode != FORM:
        return {name: str(post.get(name, "")) for name in editor.EDITABLE}
    on_disk = editor.read_files(staff_desk.settings.root, campaign_id)
    return cf.to_files(on_disk, cf.from_post(post), staff_desk.workspace.timezone)


async def _context(request: web.Request, campaign_id: str, files: dict[str, str]) -> dict[str, Any]:
    staff_desk = Desk.of(request)
    lang = language(request)
    _, problems = await asyncio.to_thread(
        editor.problems_for, staff_desk.settings.root, staff_desk.settings, campaign_id
    )
    row = None
    if campaign_id in staff_desk.workspace.campaigns:
        row = await desk.row(staff_desk, campaign_id)
    by_field, general = messages.place(problems, campaign_id, files, cf.TABLES)
    return {
        "campaign_id": campaign_id,
        "problems": problems,
        "field_problems": by_field,
        "general_problems": general,
        "tr": lambda text: messages.translate(lang, text),
        "row": row,
        "reviews": list(reversed(await staff_desk.approvals.reviews.of(campaign_id))),
        "channels": list(staff_desk.channels),
        "topics": [(t.id, t.name(lang)) for t in staff_desk.workspace.topics.values()],
        "priorities": [p.value for p in Priority],
        "attachments": editor.attachments_of(staff_desk.settings.root, campaign_id),
        "max_mb": uploads.MAX_BYTES // 1048576,
        "allowed": uploads.ALLOWED,
        "columns": {name: cf.columns(name) for name in (*cf.TABLES, cf.LINKS)},
        "counts": cf.counts,
        "expired_at": expired_at(staff_desk, campaign_id),
    }


async def _page(
    request: web.Request,
    campaign_id: str,
    revision: str | None,
    *,
    mode: str = FORM,
    post: MultiDict[str] | MultiDictProxy[Any] | None = None,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    """The editor, showing the files, or what was posted (`post`) when given."""
    staff_desk = Desk.of(request)
    root, tz = staff_desk.settings.root, staff_desk.workspace.timezone
    on_disk = editor.read_files(root, campaign_id)
    form = None
    if mode == FORM:
        try:
            saved = cf.from_files(on_disk, tz)
            form = cf.from_post(post) if post is not None else saved
            form.locked = saved.locked
        except cf.FormUnusable as exc:
            mode, extra["unusable"] = "advanced", str(exc)
    files = (
        on_disk if post is None or mode == FORM else _files_of(mode, post, staff_desk, campaign_id)
    )
    context = await _context(request, campaign_id, on_disk)
    template = "campaign.html" if mode == FORM else "campaign_advanced.html"
    return render(
        request,
        template,
        status=status,
        form=form,
        files=files,
        revision=revision,
        snippets=snippets(form) if form else {},
        done=request.query.get("done"),
        **context,
        **extra,
    )


def _revision(staff_desk: Desk, campaign_id: str) -> str | None:
    try:
        return editor.current_revision(staff_desk.settings.root, campaign_id)
    except editor.EditRefused:
        return None


async def campaign_page(request: web.Request) -> web.Response:
    session = signed_in(request)
    staff_desk = Desk.of(request)
    campaign_id = request.match_info["campaign"]
    revision = _revision(staff_desk, campaign_id)
    if revision is None:
        raise desk.DeskError(404, f"no campaign '{campaign_id}'")
    mode = "advanced" if request.query.get("view") == "advanced" else FORM
    drafts = Drafts(staff_desk.engine)
    token = request.query.get("draft")
    # Only the browser that kept it may claim it: a link alone does not put text in an editor.
    ours = token is not None and request.cookies.get(DRAFT_COOKIE) == token
    draft = await drafts.claim(token, session.user.id) if token and ours else None
    if draft is None and request.query.get("restore"):
        draft = await drafts.mine(session.user.id, campaign_id)
    if draft is not None and draft.campaign_id == campaign_id:
        post = MultiDict(draft.pairs)
        mode = str(post.get("editor", mode))
        return await _page(
            request,
            campaign_id,
            draft.base_revision or revision,
            mode=mode,
            post=post,
            restored=draft.saved_at,
        )
    waiting = await drafts.mine(session.user.id, campaign_id)
    return await _page(request, campaign_id, revision, mode=mode, waiting=waiting)


async def _keep_unclaimed(request: web.Request, campaign_id: str, post: Any) -> str | None:
    """Keep the text of a post without a session; the sign-in address that gives it back
    (to this browser only: the token is also in a cookie), or None when it cannot be kept."""
    if not editor.CAMPAIGN_ID.fullmatch(campaign_id):
        return None
    try:
        token = await Drafts(Desk.of(request).engine).keep(
            None, campaign_id, str(post.get("revision", "")), _pairs(post)
        )
    except DraftRefused:
        return None
    request[KEPT_TOKEN] = token
    target = quote(f"/admin/campaigns/{campaign_id}?draft={token}", safe="")
    return f"/admin/login?next={target}&expired=1"


def _with_draft_cookie(request: web.Request, response: web.StreamResponse) -> None:
    token = request.get(KEPT_TOKEN)
    if isinstance(token, str):
        response.set_cookie(
            DRAFT_COOKIE, token, path="/admin", httponly=True, samesite="Lax", max_age=86400
        )


async def _way_back(request: web.Request, campaign_id: str, post: Any) -> str:
    """Keep the text of a post without a session; where to go to get it back: sign in, or
    the editor when this browser has signed in again meanwhile (in another tab)."""
    signin = await _keep_unclaimed(request, campaign_id, post)
    cookie = request.cookies.get(COOKIE)
    if signin and cookie and await Desk.of(request).accounts.session(cookie) is not None:
        return unquote(parse_qs(urlsplit(signin).query)["next"][0])
    return signin or "/admin/login?expired=1"


async def _rescue(request: web.Request, campaign_id: str, post: MultiDictProxy[Any]) -> None:
    """A save without a session: keep the text and send them to sign in, then back to it
    (straight back when the browser has signed in again meanwhile, in another tab)."""
    response = web.HTTPSeeOther(await _way_back(request, campaign_id, post))
    _with_draft_cookie(request, response)
    raise response


def _uploads(post: MultiDictProxy[Any]) -> tuple[dict[str, bytes], list[str]]:
    found: dict[str, bytes] = {}
    errors = []
    for item in post.getall("upload", []):
        if isinstance(item, web.FileField) and item.filename:
            data = item.file.read(uploads.MAX_BYTES + 1)
            try:
                found[uploads.vet(item.filename, data)] = data
            except uploads.UploadRefused as exc:
                errors.append(str(exc))
    return found, errors


async def save_campaign(request: web.Request) -> web.StreamResponse:
    campaign_id = request.match_info["campaign"]
    post = await request.post()
    session = current(request)
    if session is None:
        await _rescue(request, campaign_id, post)
    session = signed_in(request)
    staff_desk = Desk.of(request)
    mode = str(post.get("editor", "advanced"))
    base = str(post.get("overwrite") or post.get("revision", ""))
    drafts = Drafts(staff_desk.engine)
    if mode == FORM and (post.get("row_op") or post.get("insert")):
        with contextlib.suppress(DraftRefused):  # too large to keep: the form still has it
            await drafts.keep(session.user.id, campaign_id, base, _pairs(post))
        return await _page(request, campaign_id, base, post=_rearranged(post))
    files_found, upload_errors = _uploads(post) if mode == FORM else ({}, [])
    try:
        files = _files_of(mode, post, staff_desk, campaign_id)
    except cf.FormUnusable as exc:
        raise desk.DeskError(422, str(exc)) from None
    if upload_errors:
        with contextlib.suppress(DraftRefused):  # too large to keep: the form still has it
            await drafts.keep(session.user.id, campaign_id, base, _pairs(post))
        return await _page(
            request,
            campaign_id,
            base,
            mode=mode,
            post=post,
            status=422,
            upload_errors=upload_errors,
        )
    removals = [str(n) for n in post.getall("remove_file", [])]
    try:
        await desk.save(
            staff_desk,
            session,
            campaign_id,
            base,
            files,
            client_ip(request),
            (files_found, removals),
        )
    except desk.DeskError as exc:
        with contextlib.suppress(DraftRefused):  # too large to keep: the form still has it
            await drafts.keep(session.user.id, campaign_id, base, _pairs(post))
        extra: dict[str, Any] = {"message": messages.translate(language(request), exc.message)}
        now = _revision(staff_desk, campaign_id)
        if exc.status == 409 and now is not None and now != base:
            theirs = editor.read_files(staff_desk.settings.root, campaign_id)
            extra["conflict"] = _conflict(theirs, files, now)
        return await _page(
            request, campaign_id, base, mode=mode, post=post, status=exc.status, **extra
        )
    await drafts.discard(session.user.id, campaign_id)
    target = "preview" if post.get("then") == "preview" else ""
    raise back(f"/admin/campaigns/{campaign_id}/{target}".rstrip("/"), "saved")


def _rearranged(post: MultiDictProxy[Any]) -> MultiDict[str]:
    """The form after a button that changes it without saving: a table row added, moved or
    removed, or a piece of the campaign's data put at the end of a body."""
    form = cf.from_post(MultiDict(post))
    if post.get("row_op"):
        cf.apply_row_op(form, str(post["row_op"]))
    else:
        locale, _, key = str(post["insert"]).partition(":")
        text = form.texts.get(locale)
        snippet = snippets(form).get(locale, {}).get(key)
        if text is not None and snippet is not None:
            text.body = text.body.rstrip("\n") + "\n\n" + snippet[1] + "\n"
    return _as_post(form, post)


def _as_post(form: cf.CampaignForm, post: MultiDictProxy[Any]) -> MultiDict[str]:
    """The form's fields as a post again (after a row was added, moved or removed)."""
    fields: MultiDict[str] = MultiDict(
        (k, v) for k, v in _pairs(post) if k in ("editor", "revision")
    )
    for loc, text in form.texts.items():
        fields.extend({f"{loc}.title": text.title, f"{loc}.summary": text.summary})
        fields[f"{loc}.body"] = text.body
    for topic in form.topics:
        fields.add("topics", topic)
    for key in ("priority", "valid_from", "expires", "reference"):
        fields[key] = getattr(form, key)
    for loc, name in form.issuer.items():
        fields[f"issuer.{loc}"] = name
    for name, rows in form.tables.items():
        fields[f"{name}-rows"] = str(len(rows))
        for i, row in enumerate(rows):
            for column, value in row.items():
                fields[f"{name}-{i}-{column}"] = value
    return fields


def _conflict(theirs: dict[str, str], mine: dict[str, str], revision: str) -> dict[str, Any]:
    """What changed between their saved files and this person's text, file by file."""
    diffs = []
    for name in editor.EDITABLE:
        lines = list(
            difflib.unified_diff(
                theirs.get(name, "").splitlines(keepends=True),
                mine.get(name, "").splitlines(keepends=True),
                f"{name} (saved)",
                f"{name} (yours)",
            )
        )
        if lines:
            diffs.append((name, "".join(lines)))
    return {"revision": revision, "diffs": diffs}


async def keep_draft(request: web.Request) -> web.StreamResponse:
    """Autosave: keep what is in the editor now, as a draft (nothing is written to files)."""
    campaign_id = request.match_info["campaign"]
    post = await request.post()
    session = current(request)
    if session is None:
        way_back = await _way_back(request, campaign_id, post)
        response = web.json_response({"signin": way_back}, status=401)
        _with_draft_cookie(request, response)
        return response
    desk.need(session, Role.AUTHOR, "editing a campaign")
    if not editor.CAMPAIGN_ID.fullmatch(campaign_id):
        raise desk.DeskError(404, f"no campaign '{campaign_id}'")
    try:
        await Drafts(Desk.of(request).engine).keep(
            session.user.id, campaign_id, str(post.get("revision", "")), _pairs(post)
        )
    except DraftRefused as exc:
        raise desk.DeskError(413, str(exc)) from None
    return web.json_response({"kept": True})


async def discard_draft(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    campaign_id = request.match_info["campaign"]
    await Drafts(Desk.of(request).engine).discard(session.user.id, campaign_id)
    raise back(f"/admin/campaigns/{campaign_id}")


async def draft_preview(request: web.Request) -> web.Response:
    """The editor's unsaved text, rendered; `?fragment=1` answers only the renditions (for
    the editor's live preview)."""
    signed_in(request)
    staff_desk = Desk.of(request)
    campaign_id = request.match_info["campaign"]
    post = await request.post()
    try:
        files = _files_of(str(post.get("editor", "")), post, staff_desk, campaign_id)
        result = await drafts_preview.preview_draft(
            staff_desk.settings.root, staff_desk.settings, campaign_id, files
        )
    except (editor.EditRefused, cf.FormUnusable) as exc:
        raise desk.DeskError(422, str(exc)) from None
    lang = language(request)
    context: dict[str, Any] = {
        "campaign_id": campaign_id,
        "title": result.title,
        "revision": result.revision,
        "items": result.items,
        "problems": result.problems,
        "tr": lambda text: messages.translate(lang, text),
        "draft": True,
    }
    if request.query.get("fragment"):
        return render(request, "preview_items.html", **context)
    return render(request, "preview.html", **context)
