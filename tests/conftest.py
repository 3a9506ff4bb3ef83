"""Shared fixtures: a copy of the repository's own workspace to break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKSPACE_PARTS = ("campaigns", "channels", "schedules.yaml")


def copy_workspace(target: Path) -> Path:
    """Copy the example workspace (campaigns/, channels/, schedules.yaml) into `target`."""
    for part in WORKSPACE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    return target


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the example workspace."""
    return copy_workspace(tmp_path / "ws")
