"""Whatever is in a workspace file, `check` reports problems; it never raises."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.settings import Settings
from broadcaster.workspace.load import load_workspace
from tests.conftest import copy_workspace

EXAMPLES = int(os.environ.get("BROADCASTER_FUZZ_EXAMPLES", "25"))

FILES = [
    "campaigns/topics.yaml",
    "campaigns/glossary.yaml",
    "campaigns/online-submission/campaign.yaml",
    "campaigns/online-submission/vi.md",
    "campaigns/online-submission/en.md",
    "channels/citizens.yaml",
    "channels/partners.yaml",
    "channels/website.yaml",
    "schedules.yaml",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.dates().map(date.isoformat)
    | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
    | st.sampled_from(
        ["vi", "en", "urgent", "${HOME}", "${NOPE}", "${X:-1}", "0 8 * * mon", "{{ x }}"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def pristine() -> Iterator[Path]:
    """One copy of the example workspace for the module; each example restores what it broke."""
    folder = Path(tempfile.mkdtemp(prefix="bc-fuzz-"))
    root = copy_workspace(folder / "ws")
    yield root
    shutil.rmtree(folder)


def _load(root: Path) -> None:
    workspace, diag = load_workspace(root, Settings.from_environ(root, environ={}))
    assert (workspace is None) == bool(diag.errors)
    for problem in diag.problems:
        assert problem.line >= 1
        assert problem.message


def _with_content(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    original = path.read_bytes()
    try:
        path.write_bytes(data)
        _load(root)
    finally:
        path.write_bytes(original)


def _replace_somewhere(document: Any, choice: int, value: Any) -> Any:
    """Put `value` at one of the document's keys or items (picked by `choice`), or replace it."""
    spots: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                spots.append((node, key))
                collect(child)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                spots.append((node, index))
                collect(child)

    collect(document)
    if not spots:
        return value
    container, key = spots[choice % len(spots)]
    container[key] = value
    return document


fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("rel", FILES)
@fuzz
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(pristine: Path, rel: str, data: bytes) -> None:
    _with_content(pristine, rel, data)


@pytest.mark.parametrize("rel", FILES)
@fuzz
@given(value=values, choice=st.integers(min_value=0, max_value=200))
def test_arbitrary_yaml_values_never_raise(
    pristine: Path, rel: str, value: Any, choice: int
) -> None:
    path = pristine / rel
    text = path.read_text(encoding="utf-8")
    if rel.endswith(".md"):
        _, front, body = text.split("---\n", 2)
        document = _replace_somewhere(yaml.safe_load(front), choice, value)
        new = "---\n" + yaml.safe_dump(document, allow_unicode=True) + "---\n" + body
    else:
        document = _replace_somewhere(yaml.safe_load(text), choice, value)
        new = yaml.safe_dump(document, allow_unicode=True)
    _with_content(pristine, rel, new.encode())
