"""What the site engine reads from the website and feed channels' options.

Protocols, so the engine needs nothing from the channels that adapt it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class SiteTitles(Protocol):
    """The website's (or the feeds') title and description, per locale."""

    @property
    def title(self) -> Mapping[str, str]: ...

    @property
    def description(self) -> Mapping[str, str]: ...


class FeedSettings(SiteTitles, Protocol):
    """The feeds' titles and how many entries each feed lists."""

    @property
    def max_entries(self) -> int: ...
