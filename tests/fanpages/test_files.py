"""Fan-page channel files as `check` reads them, `preview --out`, and the post text."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from broadcaster.fanpages.text import PostParts, fit, post_text

FACEBOOK = """\
type: facebook
page_id: "104729318263915"
token: {token}
api_version: v21.0
"""
ZALO = """\
type: zalo
oa_id: "579745863508352884"
token: ${ZALO_OA_TOKEN}
"""


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_check_refuses_a_literal_token_at_its_line(workspace: Path) -> None:
    path = workspace / "channels" / "facebook-page.yaml"
    path.write_text(FACEBOOK.format(token="EAAB-a-token-pasted-in"), encoding="utf-8")
    code, output = run(["check", "--root", str(workspace)])
    assert code == 1
    assert (
        "channels/facebook-page.yaml:3: 'token' is a secret: write ${VARIABLE} and set it "
        "in the environment"
    ) in output
    assert "EAAB-a-token-pasted-in" not in output


def test_check_wants_the_token_set_unless_the_channel_is_disabled(workspace: Path) -> None:
    path = workspace / "channels" / "facebook-page.yaml"
    path.write_text(FACEBOOK.format(token="${FB_PAGE_TOKEN:-}"), encoding="utf-8")
    code, output = run(["check", "--root", str(workspace)], env={"FB_PAGE_TOKEN": ""})
    assert code == 1
    assert "channels/facebook-page.yaml:3:" in output
    assert "the token is empty: set its environment variable, or write `enabled: false`" in output
    path.write_text("enabled: false\n" + FACEBOOK.format(token="${FB_PAGE_TOKEN:-}"))
    code, output = run(["check", "--root", str(workspace)], env={"FB_PAGE_TOKEN": ""})
    assert code == 0, output


def test_preview_out_writes_facebook_txt_and_zalo_json(workspace: Path, tmp_path: Path) -> None:
    channels = workspace / "channels"
    (channels / "facebook-page.yaml").write_text(FACEBOOK.format(token="${FB_PAGE_TOKEN}"))
    (channels / "zalo-oa.yaml").write_text(ZALO)
    env = {"FB_PAGE_TOKEN": "t1", "ZALO_OA_TOKEN": "t2"}
    out = tmp_path / "out"
    args = ["preview", "support-contacts", "--root", str(workspace), "--out", str(out)]
    code, output = run([*args, "--channel", "facebook-page", "--channel", "zalo-oa"], env)
    assert code == 0, output
    post = (out / "vi" / "facebook.txt").read_text(encoding="utf-8")
    assert "Liên hệ hỗ trợ:\n- Đầu mối mẫu 1 (ví dụ) (Bộ phận Một cửa cấp tỉnh (ví dụ)): " in post
    assert "0258 000 0001, daumoi1@example.gov.vn" in post
    english = (out / "en" / "facebook.txt").read_text(encoding="utf-8")
    assert "Support contacts:\n- Sample focal point 1" in english
    assert "Details: " in english
    assert '"type": "normal"' in (out / "vi" / "zalo.json").read_text(encoding="utf-8")


def parts(**changes: object) -> PostParts:
    base = PostParts(
        locale="en",
        title="Title",
        summary="Summary.",
        steps=("First step.", "Second step."),
        contacts=("Helpline: 0258 000 0000",),
        link="https://example.gov.vn/en/x/",
        hashtags=("#OnlineServices",),
        image_url=None,
    )
    return PostParts(**{**base.__dict__, **changes})


def test_a_post_longer_than_the_platform_allows_keeps_title_link_and_hashtags() -> None:
    whole = post_text(parts(steps=tuple(f"Step {n} " + "x" * 80 for n in range(40))))
    assert len(whole) > 2000
    cut = post_text(parts(steps=tuple(f"Step {n} " + "x" * 80 for n in range(40))), 2000)
    assert len(cut) <= 2000
    assert cut.startswith("Title\n\nSummary.\n\nSteps:\n1. Step 0")
    assert cut.endswith("…\n\nDetails: https://example.gov.vn/en/x/\n\n#OnlineServices")
    assert len(fit("h" * 50, "", "tail", 20)) <= 20


def test_hashtags_can_be_left_out() -> None:
    assert "#" not in post_text(parts(hashtags=()))
