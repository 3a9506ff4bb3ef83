"""With a radio channel in the workspace, webhook events and the press release link the
spoken bulletin; without one, they say nothing of audio."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from broadcaster.publishing.preview import preview
from broadcaster.settings import Settings
from broadcaster.workspace.load import load_workspace

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "webhook-event.schema.json").read_text()
)
PUBLISHED_AT = datetime(2021, 7, 10, 1, 0, tzinfo=UTC)
STEM = "https://thongbao.example.gov.vn/bulletins/vi/online-submission-"


def files(root: Path) -> dict[str, bytes]:
    settings = Settings.from_environ(
        root, environ={"BROADCASTER_BASE_URL": "https://thongbao.example.gov.vn"}
    )
    workspace, diag = load_workspace(root, settings, now=datetime(2021, 7, 1, tzinfo=UTC))
    assert workspace is not None, [str(problem) for problem in diag.errors]
    result = preview(
        workspace,
        settings,
        "online-submission",
        channels=("partners", "press-desk"),
        locales=("vi",),
        published_at=PUBLISHED_AT,
    )
    return {name: data for r in result.renditions for name, data in r.files.items()}


def desk_text(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.fixture
def with_radio(workspace: Path) -> Path:
    (workspace / "channels" / "radio.yaml").write_text(
        "type: radio\ntitle: {vi: Bản tin phát thanh, en: Radio bulletins}\n", encoding="utf-8"
    )
    return workspace


def test_events_and_releases_link_the_bulletin(with_radio: Path) -> None:
    rendered = files(with_radio)
    event = json.loads(rendered["webhook.json"])
    jsonschema.validate(event, SCHEMA)
    audio = event["data"]["radio"]["audio"]
    assert audio["mp3"].startswith(STEM)
    assert audio["mp3"].endswith(".mp3")
    assert audio["zip"] == audio["mp3"].removesuffix(".mp3") + ".zip"
    assert audio["feed"] == "https://thongbao.example.gov.vn/feeds/vi/radio.rss"

    text = desk_text(rendered["email.eml"])
    assert f"- Tệp MP3 để phát trên loa, sóng phát thanh: {audio['mp3']}" in text
    assert f"(ZIP có chữ ký): {audio['zip']}" in text


def test_without_a_radio_channel_there_is_no_audio(workspace: Path) -> None:
    rendered = files(workspace)
    event = json.loads(rendered["webhook.json"])
    jsonschema.validate(event, SCHEMA)
    assert event["data"]["radio"]["audio"] is None
    assert "/bulletins/" not in desk_text(rendered["email.eml"])
