"""One campaign saved with invalid YAML is quarantined; the other campaigns reload and go out."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from html import unescape
from pathlib import Path
from typing import Any

from broadcaster.web.keys import RELOAD
from tests.web.admin.conftest import ORIGIN, Staff, wait_delivered

BROKEN = "online-submission"
EDITED = "support-contacts"
BROADCASTER = Path(sys.executable).with_name("broadcaster")  # the venv's console script


async def status_json(staff: Staff) -> list[dict[str, Any]]:
    """`broadcaster status --json`, run as an operator would, beside the running service."""
    settings = staff.service.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update({k: v for k, v in settings.environ.items() if k.startswith("BROADCASTER_")})
    process = await asyncio.create_subprocess_exec(
        str(BROADCASTER),
        "status",
        "--json",
        "--root",
        str(settings.root),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    report: list[dict[str, Any]] = json.loads(out)
    return report


async def page(staff: Staff, path: str) -> str:
    response = await staff.client.get(path, headers=ORIGIN)
    assert response.status == 200, path
    return unescape(await response.text())


async def test_invalid_yaml_in_one_campaign_quarantines_it_and_the_others_still_go_out(
    staff: Staff,
) -> None:
    service = staff.service
    kept = service.workspace.campaigns[BROKEN].revision
    campaign_yaml = service.settings.root / "campaigns" / BROKEN / "campaign.yaml"
    good_yaml = campaign_yaml.read_text(encoding="utf-8")
    # An author saves campaign.yaml with a list never closed (found on line 2)...
    campaign_yaml.write_text(good_yaml.replace("]", "", 1), encoding="utf-8")

    # ...and another author edits their own campaign through the admin API (which reloads).
    body = await staff.api("GET", f"/campaigns/{EDITED}", "ana", status=200)
    files = dict(body["files"])
    files["vi.md"] += "\nCập nhật số điện thoại đường dây nóng.\n"
    saved = await staff.api(
        "PUT",
        f"/campaigns/{EDITED}",
        "ana",
        {"revision": body["revision"], "files": files},
        status=200,
    )
    revision = saved["revision"]
    assert service.workspace.campaigns[EDITED].revision == revision

    # The edited campaign can be approved and published at its new revision.
    await staff.api(
        "POST", f"/campaigns/{EDITED}/approvals", "binh", {"revision": revision}, status=201
    )
    published = await staff.api(
        "POST",
        f"/campaigns/{EDITED}/publications",
        "binh",
        {"revision": revision, "channels": ["website"]},
        status=201,
    )
    await wait_delivered(staff, published["publication"], {"website": 1})
    (newest, *_) = await service.outbox.publications()
    assert (newest.campaign_id, newest.revision) == (EDITED, revision)

    # The broken one keeps its last good revision, and says why, at the line.
    assert service.workspace.campaigns[BROKEN].revision == kept
    listed = await staff.api("GET", "/campaigns", "ana", status=200)
    assert [q["campaign"] for q in listed["quarantined"]] == [BROKEN]
    shown = await staff.api("GET", f"/campaigns/{BROKEN}", "ana", status=200)
    assert shown["quarantine"]["kept_revision"] == kept
    where = [(p["path"], p["line"]) for p in shown["quarantine"]["problems"]]
    assert where == [(f"campaigns/{BROKEN}/campaign.yaml", 2)]
    refused = await staff.api(
        "POST", f"/campaigns/{BROKEN}/approvals", "binh", {"revision": kept}, status=409
    )
    assert "quarantined" in refused["error"]

    assert (await staff.login("ana")).status == 303
    html = await page(staff, f"/admin/campaigns/{BROKEN}")
    assert "Đang cách ly: tệp của chiến dịch này có lỗi." in html
    assert f"Phiên bản tốt gần nhất {kept[:12]} vẫn được dùng" in html
    assert f"campaigns/{BROKEN}/campaign.yaml:2" in html
    other = await page(staff, f"/admin/campaigns/{EDITED}")
    assert "Đang cách ly" not in other
    assert f"campaigns/{BROKEN}" not in other  # not its problem: it is not blocked
    assert (await staff.api("GET", f"/campaigns/{EDITED}", "ana"))["problems"] == []
    # Its unsaved text still previews beside the broken campaign.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', other)
    assert csrf is not None
    draft = await staff.client.post(
        f"/admin/campaigns/{EDITED}/preview",
        data={**files, "csrf_token": csrf.group(1)},
        headers=ORIGIN,
    )
    drafted = unescape(await draft.text())
    assert draft.status == 200
    assert "website · vi" in drafted
    assert f"campaigns/{BROKEN}" not in drafted
    english = await page(staff, f"/admin/campaigns/{BROKEN}?lang=en")
    assert "Quarantined: this campaign's files have errors." in english
    listing = await page(staff, "/admin/campaigns?lang=vi")
    assert "Chiến dịch đang cách ly" in listing
    assert "đang cách ly</span>" in listing

    (entry,) = [e for e in await status_json(staff) if e["status"] == "quarantined"]
    assert (entry["campaign"], entry["revision"]) == (BROKEN, kept)
    assert entry["problems"][0]["path"] == f"campaigns/{BROKEN}/campaign.yaml"

    # Fixed and reloaded (the SIGHUP path): the quarantine is over, the new revision in use.
    campaign_yaml.write_text(good_yaml + "# checked\n", encoding="utf-8")
    assert await staff.client.app[RELOAD]() is True
    assert service.workspace.campaigns[BROKEN].revision != kept
    assert (await staff.api("GET", "/campaigns", "ana"))["quarantined"] == []
    assert (await staff.api("GET", f"/campaigns/{BROKEN}", "ana"))["quarantine"] is None
    assert "Đang cách ly" not in await page(staff, f"/admin/campaigns/{BROKEN}?lang=vi")
    assert [e for e in await status_json(staff) if e["status"] == "quarantined"] == []
