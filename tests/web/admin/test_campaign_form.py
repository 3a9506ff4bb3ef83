"""The form editor's fields and files: unchanged fields leave every file byte for byte."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.web.admin import campaign_form as cf

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CAMPAIGNS = Path(__file__).parents[2] / "fixtures" / "workspace" / "campaigns"


def _files(name: str) -> dict[str, str]:
    return {
        f: (CAMPAIGNS / name / f).read_text("utf-8") for f in ("campaign.yaml", "vi.md", "en.md")
    }


@pytest.mark.parametrize("name", sorted(p.name for p in CAMPAIGNS.iterdir() if p.is_dir()))
def test_the_example_campaigns_come_back_unchanged(name: str) -> None:
    files = _files(name)
    assert cf.to_files(files, cf.from_files(files, TZ), TZ) == files


def test_a_changed_field_changes_only_its_line_and_keeps_the_comments() -> None:
    files = _files("support-contacts")
    form = cf.from_files(files, TZ)
    form.reference = "99/TB-MAU"
    form.expires = "2030-12-31T17:00"
    written = cf.to_files(files, form, TZ)
    assert written["vi.md"] == files["vi.md"]
    assert "# SAMPLE CONTACTS ONLY." in written["campaign.yaml"]
    assert "reference: 99/TB-MAU" in written["campaign.yaml"]
    assert "expires: 2030-12-31 17:00:00+07:00" in written["campaign.yaml"]


def test_data_the_form_cannot_show_is_kept() -> None:
    files = _files("one-stop-covid-measures")
    form = cf.from_files(files, TZ)
    assert form.locked == ["measures"]
    form.texts["en"].title = "A new title"
    written = cf.to_files(files, form, TZ)
    assert "- droplet-shields" in written["campaign.yaml"]
    assert written["en.md"].startswith("---\ntitle: A new title\nsummary: ")


def test_rows_are_added_moved_and_removed() -> None:
    form = cf.from_files(_files("support-contacts"), TZ)

    def names() -> list[str]:
        return [r["name"] for r in form.table("contacts")]

    first = names()
    assert cf.apply_row_op(form, "contacts:down:0")
    assert names()[:2] == [first[1], first[0]]
    assert cf.apply_row_op(form, "contacts:remove:3")
    assert cf.apply_row_op(form, "contacts:add")
    assert names()[-1] == ""
    assert not cf.apply_row_op(form, "contacts:up:0")
    assert not cf.apply_row_op(form, "nothing:add")


def test_reading_time_counts_words_at_200_a_minute_leaving_template_tags_out() -> None:
    body = "một hai ba {% for c in data.contacts %}{{ c.name }}{% endfor %}"
    assert cf.counts(body) == (len(body), 1)
    assert cf.counts("từ " * 600 + "{{ data.x }} " * 600) == (3 * 600 + 13 * 600, 3)
