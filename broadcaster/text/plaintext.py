"""Markdown to readable plain text: email text parts and the input to the radio script."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from contextvars import ContextVar

from markdown_it.common.normalize_url import normalizeLinkText
from markdown_it.tree import SyntaxTreeNode

from broadcaster.text.markup import nfc, parse

# Deeply nested lists and quotes keep at least this measure instead of shrinking to nothing.
_MIN_WIDTH = 20
_RULE_WIDTH = 72
_CODE_INDENT = "    "
_COLUMN_GAP = "  "
_UNDERLINES = {1: "=", 2: "-"}
_TABLE_ROWS: ContextVar[bool] = ContextVar("table_rows", default=False)


def markdown_to_text(source: str, *, width: int | None = 72, table_rows: bool = False) -> str:
    """Render Markdown as plain text wrapped at `width` columns (None: no wrapping).

    With `table_rows`, a table becomes one sentence a row ("Header: value; ..."), which
    reads aloud far better than aligned columns.
    """
    if width is not None and width < 1:
        raise ValueError(f"width must be a positive number of columns or None, not {width}")
    token = _TABLE_ROWS.set(table_rows)
    try:
        lines = _blocks(SyntaxTreeNode(parse(source)).children, width, tight=False)
    finally:
        _TABLE_ROWS.reset(token)
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return nfc(text + "\n") if text else ""


def _blocks(nodes: Sequence[SyntaxTreeNode], width: int | None, *, tight: bool) -> list[str]:
    out: list[str] = []
    for node in nodes:
        lines = _block(node, width)
        if not lines:
            continue
        if out and not tight:
            out.append("")
        out.extend(lines)
    return out


def _block(node: SyntaxTreeNode, width: int | None) -> list[str]:
    match node.type:
        case "paragraph":
            return _wrap(_inline(node), width)
        case "heading":
            return _heading(node, width)
        case "bullet_list" | "ordered_list":
            return _list(node, width)
        case "blockquote":
            inner = _blocks(node.children, _narrow(width, 2), tight=False)
            return [f"> {line}" if line else ">" for line in inner]
        case "code_block" | "fence":
            code = node.content.rstrip("\n")
            return [_CODE_INDENT + line if line else "" for line in code.split("\n")]
        case "hr":
            return ["-" * min(width or _RULE_WIDTH, _RULE_WIDTH)]
        case "table":
            return _table(node)
    if node.children:
        return _blocks(node.children, width, tight=False)
    return _wrap(node.content, width)


def _inline(node: SyntaxTreeNode) -> str:
    parts: list[str] = []
    for child in node.children:
        match child.type:
            case "text" | "code_inline" | "html_inline":
                parts.append(child.content)
            case "softbreak":
                parts.append(" ")
            case "hardbreak":
                parts.append("\n")
            case "link":
                parts.append(_link(child))
            case "image":
                parts.append(_inline(child) if child.children else child.content)
            case _:
                parts.append(_inline(child))
    return "".join(parts)


def _link(node: SyntaxTreeNode) -> str:
    text = _inline(node)
    href = str(node.attrGet("href") or "")
    shown = normalizeLinkText(href)
    # Decoding can turn %20 into a space, which would split the URL when wrapping.
    if any(char.isspace() for char in shown):
        shown = href
    if shown[:7].lower() == "mailto:":
        return shown[7:].split("?", 1)[0]
    if shown[:4].lower() == "tel:":
        number = shown[4:]
        same = [c for c in text if c.isdigit()] == [c for c in number if c.isdigit()]
        return text if same or not number else f"{text} ({number})"
    if shown.startswith("#") or not shown:
        return text
    if not text.strip():
        return shown
    if _bare_url(text) == _bare_url(shown):
        return text
    return f"{text} ({shown})"


def _bare_url(url: str) -> str:
    for scheme in ("https://", "http://"):
        if url[: len(scheme)].lower() == scheme:
            url = url[len(scheme) :]
    return url.rstrip("/")


def _wrap(text: str, width: int | None) -> list[str]:
    if not text.strip():
        return []
    if width is None:
        return text.split("\n")
    lines: list[str] = []
    for segment in text.split("\n"):
        # URLs contain no spaces, so breaking only at spaces keeps them whole.
        wrapped = textwrap.wrap(segment, width, break_long_words=False, break_on_hyphens=False)
        lines.extend(wrapped or [""])
    return lines


def _narrow(width: int | None, by: int) -> int | None:
    return None if width is None else max(width - by, min(width, _MIN_WIDTH))


def _heading(node: SyntaxTreeNode, width: int | None) -> list[str]:
    lines = _wrap(_inline(node), width)
    underline = _UNDERLINES.get(int(node.tag[1:]))
    if lines and underline:
        lines.append(underline * max(_display_width(line) for line in lines))
    return lines


def _list(node: SyntaxTreeNode, width: int | None) -> list[str]:
    # markdown-it hides the paragraphs of tight lists: those items need no blank lines.
    tight = all(
        child.hidden
        for item in node.children
        for child in item.children
        if child.type == "paragraph"
    )
    start = int(str(node.attrGet("start") or 1))
    out: list[str] = []
    for index, item in enumerate(node.children):
        marker = f"{start + index}. " if node.type == "ordered_list" else "- "
        body = _blocks(item.children, _narrow(width, len(marker)), tight=tight)
        if out and not tight:
            out.append("")
        if not body:
            out.append(marker.rstrip())
            continue
        out.append(marker + body[0])
        out.extend(" " * len(marker) + line if line else "" for line in body[1:])
    return out


def _table(node: SyntaxTreeNode) -> list[str]:
    rows: list[list[str]] = []
    header_rows = 0
    aligns: list[str] = []
    for section in node.children:
        for row in section.children:
            rows.append([nfc(" ".join(_inline(cell).split())) for cell in row.children])
            if section.type == "thead":
                header_rows += 1
                aligns = [_alignment(cell) for cell in row.children]
    if not rows:
        return []
    if _TABLE_ROWS.get() and header_rows:
        headers = rows[0]
        return [
            "; ".join(f"{h}: {c}" if h else c for h, c in zip(headers, row, strict=False) if c)
            + "."
            for row in rows[header_rows:]
        ]
    columns = max(len(aligns), *(len(row) for row in rows))
    aligns += ["left"] * (columns - len(aligns))
    rows = [row + [""] * (columns - len(row)) for row in rows]
    widths = [max(1, *(_display_width(row[i]) for row in rows)) for i in range(columns)]

    def line(cells: Sequence[str]) -> str:
        padded = (_pad(cell, w, a) for cell, w, a in zip(cells, widths, aligns, strict=True))
        return _COLUMN_GAP.join(padded)

    out = [line(row) for row in rows]
    if header_rows:
        out.insert(header_rows, _COLUMN_GAP.join("-" * w for w in widths))
    return out


def _alignment(cell: SyntaxTreeNode) -> str:
    style = str(cell.attrGet("style") or "")
    return style.removeprefix("text-align:") if style.startswith("text-align:") else "left"


def _pad(text: str, width: int, align: str) -> str:
    fill = width - _display_width(text)
    if align == "right":
        return " " * fill + text
    if align == "center":
        return " " * (fill // 2) + text + " " * (fill - fill // 2)
    return text + " " * fill


def _display_width(text: str) -> int:
    """Terminal columns `text` occupies: wide East Asian characters take two, marks none."""
    width = 0
    for char in text:
        if unicodedata.category(char) in {"Mn", "Me", "Cf", "Cc"}:
            continue
        width += 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1
    return width
