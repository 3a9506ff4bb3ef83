"""The docs keep up with the code: every setting and channel option is documented, links work.

What counts as documented in docs/configuration.md:

- a setting (any `BROADCASTER_*` name the code under broadcaster/ reads, the test helpers in
  broadcaster/store/testing.py excepted) is a table row starting `| `BROADCASTER_NAME` |`;
- a channel option is a table row starting `| `option` |` in the section of its channel type,
  the one headed `### `type``; an option inside a block is written with a dot, `smtp.host`.
  The options are read from each registered type's pydantic model (`Channel.Options`),
  nested models included, under the name the YAML file uses (`from`, not `from_`).

Links: README.md links every docs/*.md, and every relative link in README.md and docs/*.md
names a file that exists (and, for `file.md#anchor`, a heading of that file).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from broadcaster.channels import CHANNEL_TYPES

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")
# Read only by the test suite's helpers; documented too, but not required to be.
TEST_HELPERS = {REPO / "broadcaster" / "store" / "testing.py"}
SETTING = re.compile(r"\bBROADCASTER_[A-Z][A-Z0-9_]*\b")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def settings_in_code() -> set[str]:
    """Every BROADCASTER_* name in the package's source."""
    names: set[str] = set()
    for path in (REPO / "broadcaster").rglob("*.py"):
        if path not in TEST_HELPERS:
            names.update(SETTING.findall(path.read_text(encoding="utf-8")))
    return names


def rows(text: str) -> set[str]:
    """The first cell of every table row, when it is written as `code`."""
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))


def section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    after = text[start + len(heading) + 2 :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", after, re.MULTILINE)]
    return after[: ends[0]] if ends else after


def nested_model(annotation: object) -> type[BaseModel] | None:
    """The pydantic model a field holds (also inside `X | None`), else None."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    for candidate in (annotation, *candidates):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def options(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every option name of a channel model as the YAML writes it, blocks as `block.key`."""
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        yield key
        inner = nested_model(info.annotation)
        if inner is not None:
            yield from options(inner, key + ".")


def test_settings_are_found() -> None:
    # Guards the scan itself: these must always turn up.
    assert {"BROADCASTER_DATABASE_URL", "BROADCASTER_SECRET_KEY"} <= settings_in_code()


def test_every_setting_is_documented() -> None:
    missing = sorted(settings_in_code() - rows(CONFIGURATION))
    assert not missing, f"add a row for each to docs/configuration.md: {missing}"


def test_channel_options_are_found() -> None:
    email = set(options(CHANNEL_TYPES["email"].Options))
    assert {"from", "smtp.host", "dkim.key_file"} <= email


@pytest.mark.parametrize("channel_type", sorted(CHANNEL_TYPES))
def test_every_channel_option_is_documented(channel_type: str) -> None:
    heading = f"### `{channel_type}`"
    assert f"\n{heading}\n" in CONFIGURATION, f"docs/configuration.md needs a '{heading}'"
    documented = rows(section(CONFIGURATION, heading))
    missing = [o for o in options(CHANNEL_TYPES[channel_type].Options) if o not in documented]
    assert not missing, f"add a row under '{heading}' in docs/configuration.md: {missing}"


def test_readme_links_every_doc() -> None:
    linked = {target.split("#", 1)[0] for target in LINK.findall(README)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in linked]
    assert not missing, f"link these from README.md's map of docs/: {missing}"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor (without GitHub's -1, -2 suffixes for repeats)."""
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", without_code(text), re.MULTILINE)}


def without_code(text: str) -> str:
    """Markdown without fenced code blocks, whose brackets and hashes are not links or headings."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.glob("*.md")), REPO / "bench" / "README.md"]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_to_files_that_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    broken: list[str] = []
    for target in LINK.findall(without_code(text)):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists() or (
            anchor
            and linked.suffix == ".md"
            and anchor not in anchors(linked.read_text(encoding="utf-8"))
        ):
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)}: {broken}"


def test_readme_stays_a_front_door() -> None:
    lines = README.splitlines()
    assert len(lines) <= 200
    long = [line for line in without_code(README).splitlines() if len(line) > 120]
    assert not [line for line in long if "://" not in line], long


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = ci.strip().splitlines()[-1]
    assert command.startswith("python3 -m venv .venv")
    assert f"```sh\n{command}\n```" in README


def test_architecture_lists_every_module() -> None:
    """docs/architecture.md names each module under its wing's `### broadcaster/<wing>/`."""
    architecture = (DOCS / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted((REPO / "broadcaster").rglob("*.py")):
        folder = path.parent.relative_to(REPO)
        if path.name == "__init__.py" or "versions" in folder.parts:
            continue
        heading = f"### `{folder.as_posix()}/`" if folder.parts[1:] else "### `broadcaster/`"
        if f"- `{path.name}`:" not in section(architecture, heading):
            missing.append(str(path.relative_to(REPO)))
    assert missing == [], f"describe these in docs/architecture.md: {missing}"
