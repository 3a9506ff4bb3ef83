"""Turning pydantic validation errors into `path:line: message` problems a person can act on."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from broadcaster.workspace.diagnostics import Diagnostics
from broadcaster.workspace.yamlsource import YamlDoc

M = TypeVar("M")

_FRIENDLY = {
    "missing": "is required",
    "string_type": "must be text",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a map of keys to values",
    "model_type": "must be a map of keys to values",
    "model_attributes_type": "must be a map of keys to values",
    "datetime_from_date_parsing": "must be a date-time such as 2021-07-09T08:00:00+07:00",
    "datetime_parsing": "must be a date-time such as 2021-07-09T08:00:00+07:00",
    "datetime_type": "must be a date-time such as 2021-07-09T08:00:00+07:00",
    "date_type": "must be a date such as 2021-12-31",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation can hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(model: Any, loc: Sequence[str | int]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        candidates = _unwrap(field.annotation)
        current = candidates[0] if candidates else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _where(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: ErrorDetails, model: Any, skip: int = 0) -> str:
    """One error as a sentence naming the key and, for typos, the likely intended key."""
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    model_loc = loc[skip:]
    kind = error["type"]
    if kind == "extra_forbidden" and loc:
        key = str(loc[-1])
        parent = _model_at(model, model_loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        message = f"unknown key '{key}'"
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
        if allowed:
            message += f" (allowed here: {', '.join(allowed)})"
        return message
    where = _where(loc) or "this file"
    if kind in ("enum", "literal_error"):
        expected = error.get("ctx", {}).get("expected", "")
        return f"{where}: {error['input']!r} is not one of {expected}"
    if kind == "string_pattern_mismatch":
        return (
            f"{where}: {error['input']!r} is not a valid id or locale "
            "(use lowercase letters, digits and '-', like 'online-services' or 'vi')"
        )
    if kind == "value_error":
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    friendly = _FRIENDLY.get(kind)
    if friendly:
        shown = error.get("input")
        got = (
            f" (got {shown!r})" if kind != "missing" and not isinstance(shown, dict | list) else ""
        )
        return f"{where} {friendly}{got}"
    return f"{where}: {error['msg']}"


def validate(
    adapter_type: type[M] | Any,
    doc: YamlDoc,
    path: str,
    diag: Diagnostics,
    *,
    data: Any = None,
    prefix: tuple[str | int, ...] = (),
) -> M | None:
    """Validate `doc` (or `data` found at `prefix` in `doc`) against a model; report every error."""
    value = doc.data if data is None else data
    try:
        if isinstance(adapter_type, type) and issubclass(adapter_type, BaseModel):
            return typing.cast(M, adapter_type.model_validate(value))
        return typing.cast(M, TypeAdapter(adapter_type).validate_python(value))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            error["loc"] = (*prefix, *error["loc"])
            diag.error(path, doc.line_of(error["loc"]), describe(error, adapter_type, len(prefix)))
        return None
