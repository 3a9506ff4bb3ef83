"""A site build that reuses an earlier build's pages and list lines writes the same bytes
as a build from nothing, whatever changed in between."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from broadcaster.site import build_site
from broadcaster.site.build import SiteCache
from broadcaster.text.render import Publication, Templates
from tests.site.test_build import (
    BASE,
    IN_2021,
    IN_2026,
    build,
    options,
    repo_publications,
    repo_workspace,
)


def test_cached_builds_equal_builds_from_nothing() -> None:
    workspace = repo_workspace()
    templates = Templates(workspace.root / "templates")
    cache = SiteCache()

    def cached(
        pubs: list[Publication], now: datetime, withdrawn: Collection[str] = ()
    ) -> dict[str, bytes]:
        return build_site(
            pubs,
            withdrawn=withdrawn,
            now=now,
            options=options(workspace),
            templates=templates,
            base_url=BASE,
            cache=cache,
        )

    pubs = list(repo_publications())
    assert cached(pubs, IN_2021) == build(IN_2021, pubs=pubs)
    assert cache.items
    assert cache.pages
    assert cache.sitemap
    # A new revision of one campaign (a new publication object), then an expiry, then a
    # withdrawal: each build reuses what it can and still equals a build from nothing.
    pubs[0] = replace(pubs[0], published_at=IN_2021 + timedelta(hours=1))
    later = IN_2021 + timedelta(hours=2)
    assert cached(pubs, later) == build(later, pubs=pubs)
    assert cached(pubs, IN_2026) == build(IN_2026, pubs=pubs)
    withdrawn = {pubs[1].campaign.id}
    assert cached(pubs, IN_2026, withdrawn) == build(IN_2026, pubs=pubs, withdrawn=withdrawn)
    # Other templates (a reload) are never answered from the old templates' lines.
    other = Templates(workspace.root / "templates")
    files = build_site(
        pubs,
        withdrawn=(),
        now=later,
        options=options(workspace),
        templates=other,
        base_url=BASE,
        cache=cache,
    )
    assert files == build(later, pubs=pubs)
    assert all(known[1] is other for known in cache.items.values())
