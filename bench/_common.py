"""Shared helpers of the bench scripts: a throwaway workspace, child processes, tables.

Every child process is started in its own process group through `Children`, which stops
them all (SIGTERM, then SIGKILL) when the `with` block ends, on errors and on Ctrl-C.
Nothing here touches the repository's own `var/` or `public/`.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKSPACE_PARTS = ("campaigns", "channels", "templates", "schedules.yaml", "workspace.yaml")


def copy_workspace(target: Path) -> Path:
    """A copy of the repository's example workspace (no var/, no public/) in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in WORKSPACE_PARTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.is_file():
            shutil.copy2(source, target / name)
    return target


def broadcaster(*args: str, root: Path, env: Mapping[str, str] | None = None) -> str:
    """Run the `broadcaster` command of this venv in `root`; its output, or exit loudly."""
    done = subprocess.run(
        [str(BIN / "broadcaster"), *args],
        cwd=root,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        shown = "\n".join(
            lines[:20] + ([f"... ({len(lines) - 20} more lines)"] * (len(lines) > 20))
        )
        sys.exit(f"broadcaster {' '.join(args)} failed:\n{shown}")
    return done.stdout


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(
    port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """One GET to 127.0.0.1:`port`: status, headers (lower-case names), body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_for(port: int, path: str, timeout: float, child: subprocess.Popen[bytes]) -> float:
    """Wait until GET `path` answers 200; seconds it took. Exits if `child` dies first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if child.poll() is not None:
            sys.exit(f"{child.args!r} exited with {child.returncode} before answering {path}")
        try:
            if get(port, path, timeout=1.0)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"nothing answered 200 on 127.0.0.1:{port}{path} within {timeout:.0f}s")


class Children:
    """Child processes that are always stopped: `with Children() as kids: kids.start(...)`."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Children:
        # Ctrl-C and SIGTERM both unwind through __exit__ (SIGINT too when the shell that
        # started us in the background set it to be ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def start(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `args` in a new process group; output goes to `log` (or nowhere)."""
        out = log.open("wb") if log is not None else subprocess.DEVNULL
        try:
            child = subprocess.Popen(
                list(args),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log is not None and not isinstance(out, int):
                out.close()
        self.processes.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        """SIGTERM the child's process group, SIGKILL it after `grace` seconds."""
        if child.poll() is None:
            _signal_group(child, signal.SIGTERM)
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait(5)
        if child in self.processes:
            self.processes.remove(child)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        try:
            for child in reversed(list(self.processes)):
                self.stop(child)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _signal_group(child: subprocess.Popen[bytes], which: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, which)  # its own group: start_new_session=True


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [
        [f"{c:,.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
