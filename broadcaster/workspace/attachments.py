"""A campaign's `files/` (the official document as a PDF, images), as channels send them."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath

from broadcaster.text.render import Publication
from broadcaster.workspace.files import read_inside

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    data: bytes

    @property
    def size_kb(self) -> int:
        """Size in kilobytes, rounded up."""
        return -(-len(self.data) // 1024)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def url(self, publication: Publication) -> str:
        """Where the website serves it."""
        return f"{publication.base_url}/files/{publication.campaign.id}/{self.name}"


def media_type(name: str) -> str:
    """The MIME type for a file name (application/pdf, image/png, ...)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def campaign_files(publication: Publication) -> list[Attachment]:
    """The campaign's attachments, read from the workspace, in path order."""
    root = publication.workspace.root
    folder = root / "campaigns" / publication.campaign.id
    found = []
    for rel in publication.campaign.attachments:
        name = PurePosixPath(rel).name
        try:
            data = read_inside(root / rel, folder)
        except OSError as exc:
            # Removed, or made a link out of the folder, since the workspace was loaded;
            # the next `check` reports it.
            log.warning("attachment %s cannot be read (%s); sent without it", rel, exc)
            continue
        found.append(Attachment(name, media_type(name), data))
    return found
