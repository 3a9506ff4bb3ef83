"""Loading `campaigns/<id>/`: campaign.yaml, one Markdown file per locale, attachments."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster.text.render import render_content
from broadcaster.workspace import schema
from broadcaster.workspace.alerts import Alert
from broadcaster.workspace.files import campaign_paths
from broadcaster.workspace.models import DEFAULT_LOCALE, Campaign, LocalizedDoc, Priority, Topic
from broadcaster.workspace.reader import Reader, localize
from broadcaster.workspace.revision import revision_of
from broadcaster.workspace.sandbox import BodyError, check_body
from broadcaster.workspace.validation import validate
from broadcaster.workspace.yamlsource import YamlDoc

_FRONT_MATTER_END = re.compile(r"^(---|\.\.\.)[ \t]*$", re.MULTILINE)
_WORKSPACE_FILES = {"topics.yaml", "glossary.yaml", "README.md"}


def _load_doc(reader: Reader, path: Path, locale: str) -> LocalizedDoc | None:
    rel = reader.rel(path)
    text = reader.text(path)
    if text is None:
        return None
    if not text.startswith("---\n"):
        reader.diag.error(
            rel, 1, "must start with a '---' line, then title: and summary:, then '---'"
        )
        return None
    end = _FRONT_MATTER_END.search(text, 4)
    if end is None:
        reader.diag.error(rel, 1, "the front matter is not closed; add a '---' line after it")
        return None
    doc = reader.yaml_text(text[4 : end.start()], rel, line_offset=1)
    if doc is None:
        return None
    front = validate(schema.FrontMatter, doc, rel, reader.diag)
    body_line = text[: end.end()].count("\n") + 2
    body = text[end.end() :].removeprefix("\n")
    if not body.strip():
        reader.diag.warning(rel, body_line, "the body is empty")
    for line, message in check_body(body, rel):
        reader.diag.error(rel, body_line + line - 1, message)
    if front is None:
        return None
    return LocalizedDoc(locale, front.title, front.summary, body, rel, body_line, front.changes)


def _read_folder(
    reader: Reader, folder: Path, readable: list[Path], refused: set[Path]
) -> tuple[dict[str, LocalizedDoc], list[str]]:
    """The campaign's locale files and attachments; anything else is reported."""
    docs: dict[str, LocalizedDoc] = {}
    files = folder / "files"
    attachments = [reader.rel(p) for p in readable if p.is_relative_to(files)]
    for path in sorted(folder.iterdir()):
        rel = reader.rel(path)
        if path.name.startswith(".") or path.name == "campaign.yaml" or path in refused:
            continue
        if path == files and path.is_dir():
            continue
        if path.suffix == ".md" and re.fullmatch(schema.LOCALE_PATTERN, path.stem):
            loaded = _load_doc(reader, path, path.stem)
            if loaded is not None:
                docs[path.stem] = loaded
        elif path.suffix == ".md":
            reader.diag.error(
                rel, 1, "name a locale file after its language code, like vi.md or en.md"
            )
        else:
            reader.diag.warning(
                rel, 1, "not part of a campaign; ignored (attachments go in files/)"
            )
    return docs, attachments


def _check_meta(
    reader: Reader,
    rel_yaml: str,
    doc: YamlDoc,
    meta: schema.CampaignFile,
    topics: dict[str, Topic],
    tz: ZoneInfo,
) -> bool:
    """Report what campaign.yaml gets wrong beyond its schema; True when nothing."""
    valid_from = localize(meta.valid_from, tz)
    expires = localize(meta.expires, tz) if meta.expires is not None else None
    ok = True
    for i, topic in enumerate(meta.topics):
        if topic not in topics:
            known = ", ".join(sorted(topics)) or "none defined"
            line = doc.line_of(("topics", i))
            reader.diag.error(
                rel_yaml, line, f"unknown topic '{topic}' (campaigns/topics.yaml has: {known})"
            )
            ok = False
    if expires is not None and expires <= valid_from:
        reader.diag.error(rel_yaml, doc.line_of(("expires",)), "expires must be after valid_from")
        ok = False
    if DEFAULT_LOCALE not in meta.issuer:
        reader.diag.error(rel_yaml, doc.line_of(("issuer",)), "issuer needs a 'vi' name")
        ok = False
    return ok


def _renders(reader: Reader, campaign: Campaign) -> bool:
    """Render every locale once, reporting a body that cannot be; True when all can."""
    ok = True
    for locale, loc_doc in campaign.docs.items():
        try:
            render_content(campaign, locale)
        except BodyError as exc:
            reader.diag.error(loc_doc.path, loc_doc.body_line + exc.line - 1, exc.message)
            ok = False
    return ok


def _load_campaign(
    reader: Reader, folder: Path, topics: dict[str, Topic], tz: ZoneInfo
) -> Campaign | None:
    campaign_id = folder.name
    readable, refused = campaign_paths(folder)
    for problem in refused:
        reader.diag.error(reader.rel(problem.path), 1, problem.message)
    not_read = {problem.path for problem in refused}
    rel_yaml = reader.rel(folder / "campaign.yaml")
    doc = None if folder / "campaign.yaml" in not_read else reader.yaml(folder / "campaign.yaml")
    meta = validate(schema.CampaignFile, doc, rel_yaml, reader.diag) if doc else None
    docs, attachments = _read_folder(reader, folder, readable, not_read)
    if not (folder / f"{DEFAULT_LOCALE}.md").exists():
        reader.diag.error(
            reader.rel(folder), 1, f"campaign '{campaign_id}' has no {DEFAULT_LOCALE}.md"
        )
    if meta is None or doc is None or DEFAULT_LOCALE not in docs:
        return None
    if not _check_meta(reader, rel_yaml, doc, meta, topics, tz):
        return None
    campaign = Campaign(
        id=campaign_id,
        topics=tuple(meta.topics),
        priority=meta.priority,
        valid_from=localize(meta.valid_from, tz),
        expires=localize(meta.expires, tz) if meta.expires is not None else None,
        issuer=meta.issuer,
        reference=meta.reference,
        data=meta.data,
        docs=docs,
        attachments=tuple(attachments),
        revision=revision_of(folder, readable),
        alert=(
            Alert.of(meta.alert, meta.priority == Priority.URGENT)
            if meta.alert is not None or meta.priority == Priority.URGENT
            else None
        ),
    )
    return campaign if _renders(reader, campaign) else None


def load_campaigns(reader: Reader, topics: dict[str, Topic], tz: ZoneInfo) -> dict[str, Campaign]:
    """Every campaign folder under campaigns/, validated; broken ones are reported and left out."""
    folder = reader.root / "campaigns"
    if not folder.is_dir():
        reader.diag.error("campaigns", 1, "folder not found; create campaigns/ with topics.yaml")
        return {}
    campaigns: dict[str, Campaign] = {}
    real = folder.resolve()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in _WORKSPACE_FILES:
            continue
        rel = reader.rel(path)
        if path.is_symlink() and path.is_dir() and not path.resolve().is_relative_to(real):
            reader.diag.error(
                rel,
                1,
                "a link to a folder outside campaigns/ is not followed; move the folder here",
            )
            continue
        if not path.is_dir():
            reader.diag.warning(rel, 1, "not a campaign folder; ignored")
            continue
        if not re.fullmatch(schema.ID_PATTERN, path.name):
            reader.diag.error(
                rel, 1, "a campaign folder name uses lowercase letters, digits and '-'; rename it"
            )
            continue
        campaign = _load_campaign(reader, path, topics, tz)
        if campaign is not None:
            campaigns[campaign.id] = campaign
    return campaigns
