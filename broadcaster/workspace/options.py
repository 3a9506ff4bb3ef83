"""The base of every channel type's options, as the workspace validates `channels/*.yaml`.

It lives with the workspace, not with the channels: the workspace's models hold validated
options, and the workspace must not reach up into the channels to say what they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class ChannelOptions(BaseModel):
    """Base of every channel type's options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    def accepts_digest(self) -> bool:
        """True for channels a `digest:` schedule may name (email to subscribers)."""
        return False

    def file_problems(self, root: Path) -> Iterator[FileProblem]:
        """Problems with files the options name (keys, CA files), for `check`."""
        return iter(())


@dataclass(frozen=True)
class FileProblem:
    """A file named in a channel's options that will not work: where, how bad, why."""

    loc: tuple[str, ...]  # the key in the channel file, e.g. ("dkim", "key_file")
    message: str
    warning: bool = False
