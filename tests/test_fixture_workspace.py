"""Tests read the frozen workspace under tests/fixtures/, never the example at the root.

Offices edit the root example (approval, campaigns, schedules, channels); that must not turn the
suite red. So the fixture has to be a valid workspace, and no test module may reach the root's
campaigns/, channels/, schedules.yaml or workspace.yaml, directly or through `--root`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from click.testing import CliRunner

from broadcaster.cli.main import main
from tests.conftest import FIXTURE, REPO, WORKSPACE_PARTS

TESTS = REPO / "tests"
# Workspace parts at the root; `templates/` too, since a root override would change pages.
ROOT_WORKSPACE = {*WORKSPACE_PARTS, "templates"}
PATH_METHODS = {"resolve", "absolute"}

PathValue = Path | Sequence[Path]


def test_fixture_has_every_workspace_part() -> None:
    missing = [part for part in WORKSPACE_PARTS if not (FIXTURE / part).exists()]
    assert missing == []


def test_fixture_passes_check() -> None:
    result = CliRunner().invoke(main, ["check", "--root", str(FIXTURE)])
    assert result.exit_code == 0, result.stderr
    assert "OK" in result.stdout
    assert "error" not in result.stderr.lower()


def test_the_example_at_the_root_passes_check() -> None:
    # Any valid edit an office makes keeps this green; a broken example would break Quick start.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "broadcaster"), "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def _path_value(node: ast.expr, module: Path) -> PathValue | None:
    """What a `Path(__file__).resolve().parents[2]`-style expression evaluates to, else None."""
    if isinstance(node, ast.Name) and node.id == "__file__":
        return module
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "Path" and len(node.args) == 1:
            return _path_value(node.args[0], module)
        if isinstance(func, ast.Attribute) and func.attr in PATH_METHODS and not node.args:
            inner = _path_value(func.value, module)
            return inner if isinstance(inner, Path) else None
    if isinstance(node, ast.Attribute) and node.attr in ("parent", "parents"):
        inner = _path_value(node.value, module)
        if isinstance(inner, Path):
            return inner.parent if node.attr == "parent" else inner.parents
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        inner = _path_value(node.value, module)
        index = node.slice.value
        if isinstance(inner, Sequence) and isinstance(index, int) and 0 <= index < len(inner):
            return inner[index]
    return None


def _root_aliases(tree: ast.Module, module: Path) -> set[str]:
    """Names bound to the repository root anywhere in the module (scopes ignored, to be safe)."""
    aliases: set[str] = set()
    for statement in ast.walk(tree):
        if isinstance(statement, ast.ImportFrom) and statement.module == "tests.conftest":
            aliases |= {a.asname or a.name for a in statement.names if a.name == "REPO"}
        elif isinstance(statement, ast.Assign) and _path_value(statement.value, module) == REPO:
            aliases |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
    return aliases


def _allowed(node: ast.expr, parent: ast.AST) -> bool:
    """The root may name repository files (`REPO / "docs"`) or be a tool's cwd; nothing else."""
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute):
        return parent.func.attr == "relative_to"  # naming a file for a message reads nothing
    if isinstance(parent, ast.Assign | ast.keyword):
        return isinstance(parent, ast.Assign) or parent.arg == "cwd"
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div) and parent.left is node:
        right = parent.right
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            return right.value.strip("/").split("/")[0] not in ROOT_WORKSPACE
    return False


def root_uses(source: str, module: Path) -> Iterator[str]:
    """`file:line: code` for each use of the repository root in `module` (text `source`)."""
    tree = ast.parse(source)
    aliases = _root_aliases(tree, module)
    for parent in ast.walk(tree):
        for node in ast.iter_child_nodes(parent):
            if not isinstance(node, ast.expr):
                continue
            is_root = (
                (isinstance(node, ast.Name) and node.id in aliases)
                or (isinstance(node, ast.Attribute) and node.attr == "REPO")
                or _path_value(node, module) == REPO
            )
            if is_root and not _allowed(node, parent):
                yield f"{module.relative_to(REPO)}:{node.lineno}: {ast.unparse(parent)[:80]}"


def test_no_test_reads_the_root_example_workspace() -> None:
    # conftest.py defines REPO and FIXTURE; this module compares paths with REPO to find uses.
    skip = {TESTS / "conftest.py", Path(__file__).resolve()}
    modules = sorted(p for p in TESTS.rglob("*.py") if p not in skip)
    found = [use for m in modules for use in root_uses(m.read_text(encoding="utf-8"), m)]
    assert found == [], "use tests.conftest.FIXTURE or copy_workspace instead:\n" + "\n".join(found)


def test_the_scan_sees_each_way_of_reaching_the_root() -> None:
    source = """\
from pathlib import Path
from tests.conftest import REPO as HERE
ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "webhooks.md"
a = HERE / "campaigns"
b = ["check", "--root", str(ROOT)]
c = Path(__file__).parent.parent.parent.parent / "schedules.yaml"
d = run(["ruff"], cwd=ROOT)
e = load(conftest.REPO)
def g():
    here = Path(__file__).resolve().parents[3]
    return load(here)
f = HERE / "tests" / "fixtures" / "workspace" / "campaigns"
"""
    module = TESTS / "web" / "admin" / "test_example.py"  # three folders below the root
    lines = sorted(int(use.split(":")[1]) for use in root_uses(source, module))
    assert lines == [5, 6, 7, 9, 12]
