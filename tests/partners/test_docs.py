"""docs/partners.md must stay true: its test vector verifies, its commands exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from standardwebhooks import Webhook

from broadcaster.channels.webhook import DEFAULT_SCHEDULE
from broadcaster.cli.main import main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "partners.md").read_text(encoding="utf-8")


def vector(name: str) -> str:
    match = re.search(rf"^\| {re.escape(name)} \| `(.+)` \|$", DOC, re.MULTILINE)
    assert match, name
    return match.group(1)


def test_the_documented_test_vector_verifies() -> None:
    secret, msg_id = vector("secret"), vector("`webhook-id`")
    stamp, body = vector("`webhook-timestamp`"), vector("body")
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(int(stamp), UTC), body)
    assert signature == vector("`webhook-signature`")


def test_the_documented_commands_exist() -> None:
    documented = set(re.findall(r"broadcaster partners ([a-z-]+)", DOC))
    group = CliRunner().invoke(main, ["partners", "--help"]).output
    for command in documented:
        assert f"  {command} " in group, command


def test_the_documented_schedule_is_the_default() -> None:
    assert "5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h" in DOC
    assert DEFAULT_SCHEDULE == [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


def test_the_plain_hmac_snippet_accepts_a_real_signature_and_rejects_a_forgery() -> None:
    snippet = DOC.split("### Any language: plain HMAC", 1)[1].split("```python", 1)[1]
    namespace: dict[str, object] = {}
    exec(snippet.split("```", 1)[0], namespace)  # the documented code, as written
    verify = namespace["verify"]
    assert callable(verify)
    secret, msg_id = vector("secret"), vector("`webhook-id`")
    body = vector("body").encode()
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": "v1,bm90IGl0 " + Webhook(secret).sign(msg_id, now, body.decode()),
    }
    assert verify(secret, body, headers) is True
    assert verify(secret, body.replace(b"created", b"updated"), headers) is False
