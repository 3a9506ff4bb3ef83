"""The code stays clean: ruff (lint and format) and mypy run as part of the suite."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_is_clean(command: list[str]) -> None:
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


PACKAGE = REPO / "broadcaster"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_ON_PURPOSE = "# Long on purpose:"
TOP_LEVEL_MODULES = {"__init__.py", "service.py", "settings.py"}


def _sources() -> dict[str, Path]:
    """Every module of the package by dotted name; a package is its `__init__.py`."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `module` imports anywhere: in functions and under
    `if TYPE_CHECKING` too; `from pkg import submodule` imports the submodule."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    found = set()
    for target in targets:
        # `import a.b.c` of a name that is not a module (an attribute): its nearest module.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_no_import_cycles() -> None:
    """No two modules import each other, directly or through others.

    Counted: imports inside functions, under `if TYPE_CHECKING`, relative ones;
    `from pkg import submodule` imports the submodule, importing a package its __init__.
    """
    modules = _sources()
    graph = {name: _imported(name, path, set(modules)) for name, path in modules.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(
        f"  ({len(cycle)}) " + ", ".join(cycle) for cycle in cycles
    )


def test_only_the_command_line_opens_the_service() -> None:
    """service.py wires every wing together; a wing that imported it would climb back up."""
    modules = _sources()
    importers = sorted(
        name
        for name, path in modules.items()
        if "broadcaster.service" in _imported(name, path, set(modules))
        and not name.startswith("broadcaster.cli.")
    )
    assert importers == [], f"only broadcaster.cli may import broadcaster.service: {importers}"


def test_no_module_is_long() -> None:
    """A module past 400 lines does more than one thing its name says."""
    long = {
        str(path.relative_to(REPO)): lines
        for path in _sources().values()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def _says_why(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    candidates = [lines[first - 2]] if first >= 2 else []
    # The lines between the `def` and its first statement (or docstring).
    candidates += lines[node.lineno - 1 : node.body[0].lineno - 1]
    return any(
        line.strip().startswith(LONG_ON_PURPOSE)
        and line.strip().removeprefix(LONG_ON_PURPOSE).strip()
        for line in candidates
    )


def test_no_function_is_long() -> None:
    """No function (or method) is over 60 lines, counted from `def` to its last line,
    unless it says why in a comment `# Long on purpose: <reason>`, written either on
    the line directly above the `def` (above its decorators) or on a line of its own
    between the signature and the first statement (or docstring)."""
    long = []
    for path in _sources().values():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _says_why(lines, node):
                long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n  " + "\n  ".join(long)


def test_only_wiring_and_settings_at_the_top_level() -> None:
    """Every stage lives in its wing; broadcaster/ itself holds only the wiring."""
    top = {path.name for path in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL_MODULES, f"move into a wing: {sorted(top - TOP_LEVEL_MODULES)}"


def test_the_checks_see_what_they_claim_to(tmp_path: Path) -> None:
    """The graph resolves relative, function-level and TYPE_CHECKING imports; a long
    function is let off only by a reason, above the def or before its first statement."""
    module = tmp_path / "mod.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from .pkg import thing\n"
        "if TYPE_CHECKING:\n"
        "    from broadcaster.pkg.deep import Name\n"
        "def f() -> None:\n"
        "    import broadcaster.other.attribute\n"
    )
    known = {"broadcaster.sibling", "broadcaster.pkg", "broadcaster.pkg.deep", "broadcaster.other"}
    assert _imported("broadcaster.mod", module, known) == known
    package = tmp_path / "__init__.py"
    package.write_text("from .deep import Name\n")
    assert _imported("broadcaster.pkg", package, known) == {"broadcaster.pkg.deep"}

    def verdicts(source: str) -> list[bool]:
        tree = ast.parse(source)
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        return [_says_why(source.splitlines(), node) for node in defs]

    assert verdicts("# Long on purpose: one step\n@decorator\ndef f():\n    pass\n") == [True]
    assert verdicts('def f():\n    # Long on purpose: one step\n    """Doc."""\n') == [True]
    assert verdicts("# Long on purpose:\ndef f():\n    pass\n") == [False]
    assert verdicts("# Long on purpose: x\n\ndef f():\n    pass\n") == [False]
