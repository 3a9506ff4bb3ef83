"""DKIM signatures for large batches, made in signing processes beside the event loop.

An RSA-2048 signature costs about 0.8 ms of CPU here, so signing at fan-out speed needs
more than one core. Threads do not get there: the Python part of each signature (the
canonical headers, the rest of the body hash) needs the GIL, and signing threads queued
behind the event loop for it left about a quarter of the CPU idle. So a large batch goes
to child processes (`python -m broadcaster.mail.signing`, one per core), each holding the
key and the templates it has prepared.

Requests and answers are length-prefixed `marshal` data (bytes, str, tuples and lists
only, nothing executable) on the child's stdin and stdout, answered in order. The key is
sent on stdin, never on the command line. A child exits when its stdin closes (the
service stopped, or died); it ignores Ctrl-C, which the service handles. When a child
dies, its pending batches raise `SigningUnavailable`: the caller signs those itself and
the next batch starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import os
import signal
import struct
import sys
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import IO, Any

from broadcaster.mail.compose import MessageTemplate
from broadcaster.mail.dkim import DkimKey, DkimSigner, PreparedSignature

log = logging.getLogger(__name__)

TEMPLATES_KEPT = 16  # prepared templates a signer keeps (one per publication and locale)
STOP_SECONDS = 5.0
_LENGTH = struct.Struct("!I")

# (index into the batch's templates, the recipient's slot values)
Item = tuple[int, Sequence[bytes]]


class SigningUnavailable(RuntimeError):
    """A signing process could not sign a batch (it exited, or failed)."""


def sign_batch(
    signer: DkimSigner,
    prepared: OrderedDict[bytes, PreparedSignature],
    templates: Sequence[bytes],
    items: Sequence[Item],
) -> list[bytes]:
    """The DKIM-Signature field of each item; `prepared` caches templates across batches."""
    signatures: list[PreparedSignature] = []
    for raw in templates:
        found = prepared.get(raw)
        if found is None:
            found = prepared[raw] = signer.prepare(MessageTemplate.parse(raw))
            while len(prepared) > TEMPLATES_KEPT:
                prepared.popitem(last=False)
        else:
            prepared.move_to_end(raw)
        signatures.append(found)
    return [signatures[index].header(values) for index, values in items]


def _frame(value: Any) -> bytes:
    data = marshal.dumps(value)
    return _LENGTH.pack(len(data)) + data


class _Child:
    """One signing process and the batches it has not answered yet (in order)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: deque[asyncio.Future[list[bytes]]] = deque()
        self.exited = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, signer: DkimSigner) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = cls(process)
        key = signer.key
        setup = (signer.domain, signer.selector, key.material, list(signer.headers))
        assert process.stdin is not None
        process.stdin.write(_frame(setup))
        return child

    async def sign(self, templates: Sequence[bytes], items: Sequence[Item]) -> list[bytes]:
        if self.exited:
            raise SigningUnavailable("the signing process has exited")
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(_frame((list(templates), [(i, list(v)) for i, v in items])))
            await stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._fail(f"cannot write to the signing process: {exc}")
        return await future

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                (length,) = _LENGTH.unpack(await stdout.readexactly(_LENGTH.size))
                status, value = marshal.loads(await stdout.readexactly(length))  # noqa: S302 (our child)
                future = self.pending.popleft()
                if future.done():
                    continue  # its caller gave up (cancelled)
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(SigningUnavailable(value))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, EOFError):
            code = await self.process.wait()
            self._fail(f"the signing process exited with code {code}")

    def _fail(self, reason: str) -> None:
        self.exited = True
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(SigningUnavailable(reason))

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class SigningPool:
    """Signs batches of one signer's messages in up to `processes` child processes."""

    def __init__(self, signer: DkimSigner, processes: int | None = None) -> None:
        self.signer = signer
        self.processes = processes or max(1, len(os.sched_getaffinity(0)))
        self._children: list[_Child] = []
        self._starting: asyncio.Lock | None = None
        self._prepared: OrderedDict[bytes, PreparedSignature] = OrderedDict()
        self._closed = False

    async def sign(self, templates: Sequence[bytes], items: Sequence[Item]) -> list[bytes]:
        """DKIM-Signature fields for `items`, in order (here, when no process can, and once
        the pool is closed: a batch still running on a replaced channel starts none)."""
        if self._closed:
            return sign_batch(self.signer, self._prepared, templates, items)
        try:
            child = await self._child()
            return await child.sign(templates, items)
        except (SigningUnavailable, OSError) as exc:
            log.warning("DKIM signing process unavailable (%s); signing in the service", exc)
            return sign_batch(self.signer, self._prepared, templates, items)

    async def _child(self) -> _Child:
        """The least busy child; a new one while there are fewer than `processes`."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            children = [c for c in self._children if not c.exited]
            if len(children) < self.processes:
                children.append(await _Child.start(self.signer))
            self._children = children
            return min(children, key=lambda c: len(c.pending))

    async def close(self) -> None:
        """Stop every signing process (each finishes the batch it is signing)."""
        self._closed = True
        children, self._children = self._children, []
        await asyncio.gather(*(child.stop() for child in children))


def _receive(source: IO[bytes]) -> Any:
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = source.read(length)
    return marshal.loads(data) if len(data) == length else None  # noqa: S302 (our parent)


def main() -> None:
    """A signing process: set up from the first message, then answer batches until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    setup = _receive(source)
    if setup is None:
        return
    domain, selector, material, headers = setup
    signer = DkimSigner(domain, selector, DkimKey.from_bytes(material), headers=headers)
    prepared: OrderedDict[bytes, PreparedSignature] = OrderedDict()
    while (request := _receive(source)) is not None:
        templates, items = request
        try:
            answer: tuple[str, Any] = ("ok", sign_batch(signer, prepared, templates, items))
        except Exception as exc:  # answered, not fatal: the service logs it and signs itself
            answer = ("error", f"{type(exc).__name__}: {exc}")
        sink.write(_frame(answer))
        sink.flush()


if __name__ == "__main__":
    main()
