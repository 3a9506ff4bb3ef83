"""`${VAR}` and `${VAR:-default}` in channel files, resolved from the environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from broadcaster.workspace.yamlsource import Loc

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")
_ONLY_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$")


def is_reference(value: object) -> bool:
    """True when `value` is exactly one `${VAR}` reference (how secrets must be written)."""
    return isinstance(value, str) and bool(_ONLY_REFERENCE.fullmatch(value.strip()))


def substitute(
    data: Any, environ: Mapping[str, str], report: Callable[[Loc, str], None], loc: Loc = ()
) -> Any:
    """A copy of `data` with references replaced; `report(loc, message)` for each bad one."""
    if isinstance(data, dict):
        return {k: substitute(v, environ, report, (*loc, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute(v, environ, report, (*loc, i)) for i, v in enumerate(data)]
    if not isinstance(data, str) or "$" not in data:
        return data

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name is None:
            report(
                loc,
                f"malformed reference {match.group(0)!r}; write ${{NAME}} or ${{NAME:-default}}",
            )
            return ""
        value = environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            report(
                loc,
                f"environment variable {name} is not set; set it, or write ${{{name}:-default}}",
            )
        return ""

    return _REFERENCE.sub(replace, data)
