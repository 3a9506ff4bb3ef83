"""`broadcaster serve` started with one campaign's files broken: it starts without that
campaign (quarantined, logged loudly, shown by `status`), and a fix plus SIGHUP brings it in.
`check` stays strict."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping
from pathlib import Path

from tests.test_serve_processes import (
    BROADCASTER,
    SHUTDOWN_TIMEOUT,
    Serve,
    environment,
    eventually,
    run_cli,
    serving,
    status_json,
)

BROKEN = "online-submission"


async def failing_cli(env: Mapping[str, str], *args: str) -> str:
    """Run `broadcaster ARGS`, expecting exit 1; its stderr."""
    process = await asyncio.create_subprocess_exec(
        str(BROADCASTER),
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0, args
    return err.decode()


async def test_serve_starts_without_a_broken_campaign_and_takes_it_back_once_fixed(
    workspace: Path, tmp_path: Path
) -> None:
    assert BROADCASTER.exists()
    campaign_yaml = workspace / "campaigns" / BROKEN / "campaign.yaml"
    good_yaml = campaign_yaml.read_text(encoding="utf-8")
    campaign_yaml.write_text("topics: [online-services\n" + good_yaml, encoding="utf-8")
    env = environment(
        database_url=f"sqlite+aiosqlite:///{workspace / 'var/db.sqlite'}",
        base_url="http://broadcaster.test",
        shutdown_timeout=str(SHUTDOWN_TIMEOUT),
    )
    root = ("--root", str(workspace))
    # `check` stays strict; `publish` still sends the other campaigns, not the broken one.
    assert f"campaigns/{BROKEN}/campaign.yaml:2:" in await failing_cli(env, "check", *root)
    published = await run_cli(
        env, "publish", "support-contacts", "--channels", "website", "--wait", *root
    )
    assert "(support-contacts) created" in published
    refused = await failing_cli(env, "publish", BROKEN, *root)
    assert f"campaign '{BROKEN}' has errors" in refused
    assert f"campaigns/{BROKEN}/campaign.yaml:2:" in refused

    serve = Serve(workspace, env, tmp_path / "serve.log")
    async with serving(serve) as session:
        await serve.wait_healthy(session)
        async with session.get(f"{serve.url}/healthz") as response:
            campaigns = (await response.json())["campaigns"]
        assert campaigns == 3  # of four: the broken one is left out
        assert f"campaign {BROKEN} quarantined" in serve.output()
        assert f"campaigns/{BROKEN}/campaign.yaml:" in serve.output()

        (entry,) = [e for e in await status_json(env, workspace) if e["status"] == "quarantined"]
        assert (entry["campaign"], entry["revision"]) == (BROKEN, None)
        text = await run_cli(env, "status", *root)
        assert f"QUARANTINED {BROKEN}" in text
        assert "left out (never loaded)" in text
        assert f"campaigns/{BROKEN}/campaign.yaml:2:" in text

        campaign_yaml.write_text(good_yaml, encoding="utf-8")
        os.kill(serve.pid, signal.SIGHUP)

        async def taken_back() -> bool:
            async with session.get(f"{serve.url}/healthz") as response:
                return bool((await response.json())["campaigns"] == 4)

        await eventually(taken_back, 10, "the fixed campaign loading on SIGHUP")
        report = await status_json(env, workspace)
        assert [e for e in report if e["status"] == "quarantined"] == []
        assert await serve.stop() == 0
