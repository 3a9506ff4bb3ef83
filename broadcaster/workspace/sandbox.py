"""The sandbox campaign bodies run in, and the static check that refuses escapes first."""

from __future__ import annotations

import operator
from collections.abc import Generator, Iterator, Mapping
from typing import Any, cast

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from broadcaster.workspace import limits

# The names a campaign body may use; everything else is refused by `check`.
BODY_NAMES = frozenset({"data", "campaign", "locale"})
_MAX_REPEAT = 100_000
_MAX_EXPONENT = 64
# Text methods that can make long text from short; the filters do the same within limits.
_TEXT_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "format",
     "format_map", "translate", "maketrans"}
)  # fmt: skip


class _BodyCode(CodeGenerator):
    """`a ~ b` checks the length of what it makes, like the filters do."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BodySandbox(ImmutableSandboxedEnvironment):
    """No attribute tricks, no mutation, no giant strings from `'x' * 10**9`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BodyCode

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        # Helpers a body has no use for are removed rather than trusted.
        for name in ("cycler", "joiner", "namespace", "lipsum", "dict", "range"):
            self.globals.pop(name, None)
        self.filters = {name: limits.guard_filter(name, f) for name, f in self.filters.items()}

    @staticmethod
    def concat(parts: Any) -> str:
        """Join the output of a macro, `set` or `call` block, within the limits."""
        parts = list(parts)
        limits.current().spend(sum(len(part) for part in parts))
        return "".join(parts)

    @staticmethod
    def join_text(parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`, within the limits."""
        texts = [str(part) for part in parts]
        limits.current().spend(sum(len(text) for text in texts))
        return "".join(texts)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _TEXT_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                raise SecurityError("'%' does not format text in a campaign body; use '~'")
            return operator.mod(left, right)
        if operator_name == "+":
            if not isinstance(left, int | float) or not isinstance(right, int | float):
                limits.current().spend(limits.size_of(left) + limits.size_of(right))
            return operator.add(left, right)
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > _MAX_REPEAT:
                raise SecurityError("repetition too large")
            if sized:
                limits.current().spend(limits.size_of(seq) * count)
        return operator.mul(left, right)


def _finalize(value: Any) -> Any:
    """Every `{{ ... }}`: a value too long to show is refused before it becomes text."""
    if not isinstance(value, int | float | bool) and value is not None:
        limits.current().spend(limits.size_of(value))
    return value


_sandbox = BodySandbox()


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _static_problems(tree: nodes.Template) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    bound: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, nodes.Name) and node.ctx in ("store", "param"):
            bound.add(node.name)
    for node in _walk(tree):
        line = node.lineno
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append((line, f"'.{node.attr}' is not allowed in a campaign body"))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append((line, f"'[{node.arg.value!r}]' is not allowed in a campaign body"))
        elif isinstance(node, nodes.Filter) and node.name in ("attr", "format"):
            problems.append((line, f"the '{node.name}' filter is not allowed in a campaign body"))
        elif isinstance(node, nodes.Filter | nodes.Test) and any(
            isinstance(arg, nodes.Const) and str(arg.value).startswith("_")
            for arg in [*node.args, *(kw.value for kw in node.kwargs)]
        ):
            problems.append((line, "names starting with '_' are not allowed in a campaign body"))
        elif isinstance(node, nodes.Filter) and node.name not in _sandbox.filters:
            problems.append((line, f"unknown filter '{node.name}'"))
        elif isinstance(node, nodes.Test) and node.name not in _sandbox.tests:
            problems.append((line, f"unknown test '{node.name}'"))
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            problems.append((line, "a campaign body cannot include, import or extend templates"))
        elif (
            isinstance(node, nodes.Name)
            and node.ctx == "load"
            and node.name not in BODY_NAMES
            and node.name not in bound
            and node.name != "loop"
        ):
            allowed = ", ".join(sorted(BODY_NAMES))
            problems.append((line, f"unknown name '{node.name}' (a body may use {allowed})"))
    return sorted(problems, key=lambda problem: problem[0])


def check_body(source: str, filename: str) -> list[tuple[int, str]]:
    """Problems in a body template, as (line within the body, message); nothing is run."""
    try:
        tree = _sandbox.parse(source, filename=filename)
    except TemplateSyntaxError as exc:
        return [(exc.lineno or 1, f"template syntax error: {exc.message}")]
    return _static_problems(tree)


class BodyError(Exception):
    """A body that passed the static check but failed while rendering."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _template_line(exc: BaseException, filename: str) -> int:
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_within_limits(template: Template, context: Mapping[str, Any]) -> str:
    """The body's text; past a limit, the template stops where it is (so its line is known)."""
    parts: list[str] = []
    with limits.running() as budget:
        chunks = cast(Generator[str, None, None], template.generate(dict(context)))
        for chunk in chunks:
            parts.append(chunk)
            try:
                budget.emit(len(chunk))
            except limits.BodyLimit as exc:
                chunks.throw(limits.BodyLimit(str(exc)))
        budget.check()
    return "".join(parts)


def render_body(source: str, filename: str, context: Mapping[str, Any]) -> str:
    """Render a body that `check_body` accepted; errors carry the body line."""
    problems = check_body(source, filename)
    if problems:
        line, message = problems[0]
        raise BodyError(line, message)
    try:
        template = _sandbox.from_string(source)
        template.filename = filename
        return _render_within_limits(template, context)
    except limits.BodyLimit as exc:
        raise BodyError(_template_line(exc, filename), f"the body {exc}") from None
    except SecurityError as exc:
        raise BodyError(_template_line(exc, filename), f"refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise BodyError(_template_line(exc, filename), f"template error: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise BodyError(_template_line(exc, filename), f"template error: {exc}") from None
