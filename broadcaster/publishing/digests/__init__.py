"""Digests: one email per daily or weekly subscriber listing what was published since.

`Digests.fire` is what a `digest:` schedule firing does (through `Publisher.fire`);
`StoreAudience` reads digest subscribers from the subscriber store.
"""

from broadcaster.publishing.digests.fire import DigestError, DigestFired, Digests
from broadcaster.publishing.digests.snapshot import (
    DIGEST_CAMPAIGN_PREFIX,
    DigestSnapshot,
    is_digest,
)
from broadcaster.publishing.digests.store import DigestAudience, Member, StoreAudience

__all__ = [
    "DIGEST_CAMPAIGN_PREFIX",
    "DigestAudience",
    "DigestError",
    "DigestFired",
    "DigestSnapshot",
    "Digests",
    "Member",
    "StoreAudience",
    "is_digest",
]
