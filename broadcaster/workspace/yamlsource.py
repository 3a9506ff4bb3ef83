"""YAML loading that remembers the line of every key and item, for `path:line` errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]

# Aliases can make a small document expand enormously ("billion laughs"); a
# workspace file never needs more than this many values.
_MAX_NODES = 100_000


class YamlError(Exception):
    """A YAML document that cannot be read; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class YamlDoc:
    """Plain Python data plus the line each key/item was written on."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    first_line: int = 1

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of `loc`, or of its nearest enclosing key that exists."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), self.first_line)


class _Builder:
    def __init__(self, line_offset: int) -> None:
        self.constructor = SafeConstructor()
        self.line_offset = line_offset
        self.lines: dict[Loc, int] = {}
        self.count = 0

    def line(self, node: Node) -> int:
        return int(node.start_mark.line) + 1 + self.line_offset

    def build(self, node: Node, loc: Loc, active: frozenset[int]) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise YamlError(self.line(node), "document too large (too many values or aliases)")
        if id(node) in active:
            raise YamlError(self.line(node), "an alias refers to itself")
        self.lines.setdefault(loc, self.line(node))
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                raise YamlError(
                    self.line(node), f"cannot read value {node.value!r}: {exc}"
                ) from None
        inner = active | {id(node)}
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i), inner) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.build_mapping(node, loc, inner)
        raise YamlError(self.line(node), "unsupported YAML node")

    def build_mapping(self, node: MappingNode, loc: Loc, active: frozenset[int]) -> dict[Any, Any]:
        self.constructor.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlError(
                    self.line(key_node), "a key must be a plain value, not a list or map"
                )
            key = self.build(key_node, (*loc, "\0key"), active)
            if not isinstance(key, str | int | bool | float) or key is None:
                raise YamlError(self.line(key_node), f"a key must be text, got {key!r}")
            if key in result:
                raise YamlError(self.line(key_node), f"duplicate key {key!r}")
            child: Loc = (*loc, key if isinstance(key, str) else str(key))
            self.lines[child] = self.line(key_node)
            result[key] = self.build(value_node, child, active)
        return result


def load_yaml(text: str, *, line_offset: int = 0) -> YamlDoc:
    """Parse one YAML document; `line_offset` shifts lines (front matter inside a file)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 if mark else 1) + line_offset
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(1 + line_offset, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(1 + line_offset, "invalid YAML: nested too deeply") from None
    if node is None:
        return YamlDoc(None, {}, 1 + line_offset)
    builder = _Builder(line_offset)
    try:
        data = builder.build(node, (), frozenset())
    except RecursionError:
        raise YamlError(1 + line_offset, "invalid YAML: nested too deeply") from None
    builder.lines = {k: v for k, v in builder.lines.items() if "\0key" not in k}
    return YamlDoc(data, builder.lines, 1 + line_offset)
