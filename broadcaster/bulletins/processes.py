"""Running a speech engine or an encoder: a subprocess awaited on the event loop, with a
time limit, killed when it runs over; nothing here blocks serving."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence


class ToolFailed(RuntimeError):
    """A tool exited with an error, ran over its time limit or is not installed."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        # Worth trying again later (a time limit, a busy machine), or not (a missing tool).
        self.temporary = temporary


async def run(argv: Sequence[str], stdin: bytes | None, limit: float) -> bytes:
    """Run `argv` feeding it `stdin`; its standard output, or ToolFailed."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as error:
        raise ToolFailed(f"{argv[0]} is not installed: {error}", temporary=False) from error
    except PermissionError as error:
        raise ToolFailed(f"{argv[0]} cannot be run: {error}", temporary=False) from error
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), limit)
    except TimeoutError as error:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise ToolFailed(f"{argv[0]} ran over its {limit:g} s limit", temporary=True) from error
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ToolFailed(
            f"{argv[0]} exited with {process.returncode}: {detail[0]}", temporary=False
        )
    return out
