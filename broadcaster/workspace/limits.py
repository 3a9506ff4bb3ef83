"""What one campaign body may cost while it renders: time, steps, text made and text output.

A body runs with a `Budget` for the current thread: a trace function counts the template
lines and Python calls it runs and checks the deadline; the filters, calls and joins that can
make long text check the size first. A body over a limit stops with `BodyLimit`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import FrameType
from typing import Any

from jinja2.exceptions import SecurityError

MAX_SECONDS = 2.0  # wall time per body
MAX_STEPS = 500_000  # template lines and Python calls per body
MAX_OUTPUT = 1_000_000  # characters a body's text may have
MAX_WORK = 20_000_000  # characters its filters, calls and joins may make in all
_TURN = 0.002  # how often a render lets other threads run
TEMPLATE_FILE = "<template>"  # the code file name Jinja gives a template compiled from text

_SLOW = "takes too long to render (over {seconds:g} s)"
_LOOPS = "runs too many loop steps (over {steps:,})"
_BIG = "makes too much text (over {chars:,} characters)"
_ADVICE = "; loop over fewer items, nest fewer loops or make shorter text"


class BodyLimit(SecurityError):
    """A body went over one of its limits."""


class Budget:
    """What one render has spent so far."""

    def __init__(self, seconds: float = MAX_SECONDS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.turn = self.deadline - seconds + _TURN
        self.steps = 0
        self.work = 0
        self.output = 0
        self.over: str | None = None
        # A limit passed in Jinja's own code (the loop machinery): raised at the template's
        # next line, where the error can name it, and watched for until then.
        self.deferred: str | None = None

    def _fail(self, what: str) -> BodyLimit:
        self.over = self.over or what + _ADVICE
        return BodyLimit(self.over)

    def check(self) -> None:
        """Raise again when a limit was already passed (someone may have swallowed it)."""
        if self.over is not None:
            raise BodyLimit(self.over)

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self._fail(_LOOPS.format(steps=MAX_STEPS))
        if self.steps % 16 == 0:
            now = time.monotonic()
            if now > self.deadline:
                raise self._fail(_SLOW.format(seconds=self.seconds))
            if now > self.turn:  # let other threads (the service's event loop) have a turn
                time.sleep(0)
                self.turn = now + _TURN

    def spend(self, chars: int) -> None:
        """Text about to be made; refuses it when one piece or all of it is too much."""
        self.check()
        self.work += chars
        if chars > MAX_OUTPUT or self.work > MAX_WORK:
            raise self._fail(_BIG.format(chars=MAX_OUTPUT))

    def emit(self, chars: int) -> None:
        """Text the body outputs."""
        self.output += chars
        if self.output > MAX_OUTPUT:
            raise self._fail(_BIG.format(chars=MAX_OUTPUT))


_current: ContextVar[Budget | None] = ContextVar("body_budget", default=None)


def current() -> Budget:
    """The budget of the body rendering in this thread (a fresh one outside a render)."""
    return _current.get() or Budget()


def size_of(value: Any, cap: int = MAX_WORK) -> int:
    """Roughly how many characters `value` is as text; counting stops past `cap`."""
    total, todo = 0, [value]
    while todo and total <= cap:
        item = todo.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            todo.extend(item)
        else:
            total += 8
    return total


def _tracer(budget: Budget) -> Callable[[FrameType, str, Any], Any]:
    # Past a limit, tracing stops: the error is on its way (and raising again while Jinja
    # rewrites its traceback would lose the line).
    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if budget.over is not None:
            return None
        if event == "line":
            if budget.deferred is not None:
                budget.over = budget.deferred
                raise BodyLimit(budget.over)
            budget.tick()
        return local

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        if budget.over is not None:
            return None
        if frame.f_code.co_filename == TEMPLATE_FILE:
            budget.tick()
            return local
        try:
            budget.tick()
        except BodyLimit:  # raised in the template's code, at its next line
            budget.deferred, budget.over = budget.over, None
        return None

    return on_call


@contextlib.contextmanager
def running(seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """Render a body in this block, within its limits."""
    budget = Budget(seconds)
    token = _current.set(budget)
    previous = sys.gettrace()
    sys.settrace(_tracer(budget))
    try:
        yield budget
    finally:
        sys.settrace(previous)
        _current.reset(token)


# --- filters that can make long text from short --------------------------------------------


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


def _pad(width: Any) -> int:
    return len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 4


def _center(value: Any, width: int = 80) -> int:
    return size_of(value) + (width if isinstance(width, int) else 0)


def _indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> int:
    return size_of(value) + _lines(value) * _pad(width)


def _wordwrap(value: Any, width: int = 79, *args: Any, **kwargs: Any) -> int:
    wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    breaks = size_of(value) // max(int(width) if isinstance(width, int) else 1, 1) + _lines(value)
    return size_of(value) + breaks * (len(wrap) if isinstance(wrap, str) else 2)


def _replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> int:
    text, old, new = str(value), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _join(value: Any, d: Any = "", attribute: Any = None) -> int:
    items = value if isinstance(value, list | tuple) else list(value)
    return size_of(items) + len(items) * len(str(d))


def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> int:
    if not isinstance(start, int | float):
        raise BodyLimit("the 'sum' filter adds numbers only")
    return 8


def _any(value: Any, *args: Any, **kwargs: Any) -> int:
    return size_of(value) + sum(size_of(a) for a in [*args, *kwargs.values()])


# How long, at most, each filter's result can be, from its arguments (before it runs).
RESULT_SIZE: dict[str, Callable[..., int]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "sum": _sum,
}


def guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (the filter `name`), refusing to make more text than a body may."""
    estimate: Callable[..., int] = RESULT_SIZE.get(name, _any)
    passed = getattr(function, "jinja_pass_arg", None)  # context, eval context or environment
    skip = 0 if passed is None else 1

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip and isinstance(args[skip], Iterator):
            # A generator (from `map`, `select`) is read once, here, so it can be measured.
            args = (*args[:skip], list(args[skip]), *args[skip + 1 :])
        current().spend(estimate(*args[skip:], **kwargs))
        return function(*args, **kwargs)

    if passed is not None:
        setattr(guarded, "jinja_pass_arg", passed)  # noqa: B010
    guarded.__name__ = getattr(function, "__name__", name)
    return guarded
