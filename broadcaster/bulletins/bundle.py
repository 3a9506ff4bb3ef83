"""One signed zip per bulletin, what IP loudspeaker systems ingest: the audio, the script
and a JSON manifest, signed with Ed25519.

`manifest.json` lists every other file with its SHA-256; `manifest.sig` is the raw 64-byte
Ed25519 signature of `manifest.json`'s exact bytes. The public key is served at
`/bulletins/key.pem`; it is derived from the service's secret key, so every process of one
installation signs with the same key, and a new secret key means a new signing key.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MEDIA_TYPES = {
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg; codecs=opus",
    ".txt": "text/plain; charset=utf-8",
}


class BundleInvalid(ValueError):
    """A bundle whose signature or contents do not check out."""


def signing_key(secret_key: bytes) -> Ed25519PrivateKey:
    """The installation's bulletin signing key, derived from its secret key (HKDF-SHA256)."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"broadcaster bulletin signing"
    ).derive(secret_key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    """The public half of `key` as PEM (SubjectPublicKeyInfo), as `/bulletins/key.pem` serves it."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def manifest_bytes(fields: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The manifest: `fields` plus each file's size, SHA-256 and media type; sorted JSON."""
    listed = {
        name: {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": MEDIA_TYPES.get(name[name.rfind(".") :], "application/octet-stream"),
        }
        for name, data in sorted(files.items())
    }
    document = {**fields, "files": listed}
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def bundle(
    fields: Mapping[str, Any], files: Mapping[str, bytes], key: Ed25519PrivateKey, at: datetime
) -> tuple[bytes, bytes]:
    """(the zip, its manifest): `files`, `manifest.json` and `manifest.sig`, dated `at`."""
    manifest = manifest_bytes({**fields, "key_id": key_id(key.public_key())}, files)
    members = {**files, MANIFEST: manifest, SIGNATURE: key.sign(manifest)}
    out = io.BytesIO()
    stamp = at.timetuple()[:6]
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            # Audio is compressed already; text and JSON shrink.
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith((".mp3", ".opus")) else zipfile.ZIP_DEFLATED
            )
            archive.writestr(info, data)
    return out.getvalue(), manifest


def verify(data: bytes, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a bundle as a loudspeaker system should: the signature over manifest.json, then
    every file's size and SHA-256 against it. The manifest, or BundleInvalid."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
    except zipfile.BadZipFile as error:
        raise BundleInvalid(f"not a zip file: {error}") from error
    manifest, signature = members.pop(MANIFEST, None), members.pop(SIGNATURE, None)
    if manifest is None or signature is None:
        raise BundleInvalid(f"a bundle holds {MANIFEST} and {SIGNATURE}")
    try:
        public_key.verify(signature, manifest)
    except Exception as error:  # cryptography raises InvalidSignature
        raise BundleInvalid("the signature does not match manifest.json") from error
    document: dict[str, Any] = json.loads(manifest)
    listed = document.get("files", {})
    if set(listed) != set(members):
        raise BundleInvalid(f"files {sorted(members)} differ from the manifest's {sorted(listed)}")
    for name, data_ in members.items():
        if hashlib.sha256(data_).hexdigest() != listed[name]["sha256"]:
            raise BundleInvalid(f"{name} does not match its SHA-256 in the manifest")
    return document
