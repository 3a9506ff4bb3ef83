"""One owner per table: a wing's tables are used only inside that wing.

Every `Table` declared in `broadcaster/<wing>/tables.py` may be imported (by name, from
that module) only by modules of the same wing; others call the wing's methods. The
enums in those modules are vocabulary and free to import. Migrations and the store's
registry of all tables are the exceptions: they need the whole schema.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "broadcaster"
# Modules (as paths under broadcaster/) allowed to see every wing's tables.
SCHEMA_GATHERERS = ("store/registry.py", "store/migrations/")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tables_declared(path: Path) -> set[str]:
    """Names bound at module level to `Table(...)` in one tables.py."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "Table"
        ):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def owned_tables() -> dict[str, tuple[str, set[str]]]:
    """tables module -> (its wing's package, the Table names it declares)."""
    owned = {}
    for path in sorted(PACKAGE.rglob("tables.py")):
        names = _tables_declared(path)
        if names:
            module = _module_name(path)
            owned[module] = (module.rsplit(".", 1)[0], names)
    return owned


def trespasses() -> list[str]:
    """Every import of another wing's tables (or its tables module) as `path:line: what`."""
    owned = owned_tables()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(SCHEMA_GATHERERS):
            continue
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            imported: list[tuple[str, str | None]] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if node.module in owned:
                        imported.append((node.module, alias.name))
                    elif f"{node.module}.{alias.name}" in owned:
                        imported.append((f"{node.module}.{alias.name}", None))
            elif isinstance(node, ast.Import):
                imported.extend((a.name, None) for a in node.names if a.name in owned)
            for tables_module, name in imported:
                wing, tables = owned[tables_module]
                inside = module == wing or module.startswith(wing + ".")
                if inside or (name is not None and name not in tables):
                    continue
                what = tables_module if name is None else f"{tables_module}.{name}"
                found.append(f"broadcaster/{relative}:{node.lineno}: {what}")
    return found


def test_the_wings_declare_their_tables() -> None:
    owners = {module: names for module, (_, names) in owned_tables().items()}
    assert "deliveries" in owners["broadcaster.outbox.tables"]
    assert "subscribers" in owners["broadcaster.subscribers.tables"]
    assert "partners" in owners["broadcaster.partners.tables"]
    assert "users" in owners["broadcaster.staff.tables"]


def test_only_its_own_wing_uses_a_table() -> None:
    assert trespasses() == [], "call the owning wing's methods instead"
