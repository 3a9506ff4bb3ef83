"""`broadcaster serve` fails fast and starts quiet: a taken port or a store that does not
answer stops it with one line and exit status 1 before any schedule fires; the libraries'
INFO lines (Alembic's) show only with --verbose."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.test_serve_processes import (
    BROADCASTER,
    Serve,
    environment,
    eventually,
    free_port,
    schedule_launch,
    serving,
    status_json,
)

pytestmark = pytest.mark.skipif(
    not BROADCASTER.exists(), reason=f"{BROADCASTER} missing: pip install -e . in the venv"
)


async def run_serve(env: dict[str, str], root: Path, *args: str) -> tuple[int, str, str]:
    """Run `broadcaster serve` expecting it to stop by itself; (status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        str(BROADCASTER),
        "serve",
        "--root",
        str(root),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def missed_launch(root: Path) -> None:
    """A launch an hour ago: within the catch-up window, so a start publishes it."""
    schedule_launch(root, "online-submission", "[website]", datetime.now(UTC) - timedelta(hours=1))


async def test_a_second_serve_on_a_taken_port_says_so_and_fires_nothing(
    workspace: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(workspace, other)
    missed_launch(other)
    env = environment(shutdown_timeout="5")
    first = Serve(workspace, env, tmp_path / "first.log")
    async with serving(first) as session:
        await first.wait_healthy(session)
        taken = {**env, "BROADCASTER_LISTEN": f"127.0.0.1:{first.port}"}

        code, out, err = await run_serve(taken, other)

        assert code == 1
        assert out == ""
        assert err.splitlines() == [
            f"cannot listen on 127.0.0.1:{first.port}: Address already in use"
        ]
        assert await status_json(env, other) == []  # the missed launch did not go out
        assert await first.stop() == 0
    log = first.output()
    assert f"serving {workspace} on http://127.0.0.1:{first.port}" in log
    assert "alembic" not in log  # no "setup plugin", "Context impl", "Running upgrade"

    # The same workspace on a free port does catch the launch up: the check above was real.
    second = Serve(other, env, tmp_path / "second.log")
    async with serving(second) as session:
        await second.wait_healthy(session)

        async def published() -> bool:
            return [p["schedule"] for p in await status_json(env, other)] == ["launch-now"]

        await eventually(published, 15, "the catch-up of the missed launch")
        assert await second.stop() == 0


async def test_serve_stops_before_any_firing_when_the_store_does_not_answer(
    workspace: Path,
) -> None:
    missed_launch(workspace)
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/broadcaster"
    env = environment(database_url=nowhere, listen=f"127.0.0.1:{free_port()}")

    code, out, err = await run_serve(env, workspace)

    assert code == 1
    assert out == ""
    assert err.splitlines()[0].startswith(f"cannot use the database {nowhere}: ")
    assert "Connection refused" in err
    assert "Traceback" not in err


async def test_verbose_brings_back_the_migration_lines(workspace: Path, tmp_path: Path) -> None:
    env = environment(shutdown_timeout="5")
    quiet = Serve(workspace, env, tmp_path / "quiet.log")
    async with serving(quiet) as session:
        await quiet.wait_healthy(session)
        assert await quiet.stop() == 0
    assert "alembic" not in quiet.output()

    fresh = tmp_path / "fresh"
    shutil.copytree(workspace, fresh, ignore=shutil.ignore_patterns("var", "public"))
    port = free_port()
    verbose_env = {**env, "BROADCASTER_LISTEN": f"127.0.0.1:{port}"}
    process = await asyncio.create_subprocess_exec(
        str(BROADCASTER),
        "serve",
        "--verbose",
        "--root",
        str(fresh),
        env=verbose_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        lines: list[str] = []
        async with asyncio.timeout(30):
            while not any("serving" in line for line in lines):
                line = (await process.stderr.readline()).decode()
                assert line, "serve --verbose exited:\n" + "".join(lines)
                lines.append(line)
    finally:
        process.terminate()
        await process.wait()
    assert any("alembic.runtime.migration: Running upgrade" in line for line in lines)
