"""The hashed lock file CI installs from (requirements/test.lock) still satisfies every
requirement in pyproject.toml, and pins nothing without a hash."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "test.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
REFRESH = "refresh it as docs/operations.md says (uv pip compile ... --generate-hashes)"


def pinned() -> dict[str, tuple[str, int]]:
    """Package -> (version, how many hashes), from the lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(text) for text in listed]


def test_every_requirement_is_pinned_in_the_lock_at_a_version_it_allows() -> None:
    pins = pinned()
    environment = {"python_version": "3.11", "sys_platform": "linux", "extra": "test"}
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: {REFRESH}"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, which {requirement} excludes: {REFRESH}"
        )


def test_every_pin_carries_hashes() -> None:
    pins = pinned()
    assert len(pins) > 40, "the lock holds the whole dependency tree"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"pinned without --hash: {unhashed}"


def test_ci_installs_from_the_lock_with_hashes_required() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = "pip install -q --require-hashes -r requirements/test.lock"
    assert command in ci
    assert command in readme
