"""DKIM signatures (RFC 6376, relaxed/relaxed) made per recipient at fan-out speed.

Every recipient's message differs (To, Message-ID, the tokens in List-Unsubscribe and the
footer), so each one is signed. What does not differ is done once per template: the
canonical form of the static headers and the body hash up to the first placeholder (a
SHA-256 state that is copied, not recomputed). Per recipient that leaves a few short
headers to canonicalise, the rest of the body to hash and one private-key operation.
That operation is OpenSSL's (`cryptography`): dkimpy's pure-Python RSA takes ~6 ms per
RSA-2048 signature here, OpenSSL ~0.8 ms. Large batches are signed in signing processes
(signing.py), beside the event loop, on every core. Signatures are checked with
`dkim.verify` (dkimpy) in the tests; Ed25519 follows RFC 8463 (ed25519-sha256).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from broadcaster.mail.compose import MessageTemplate, Segments, Slot

# Signed when present; List-* protect the one-click unsubscribe (RFC 8058 section 4).
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-language",
)

_WSP = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb"[ \t]+\r\n")
_TRAILING_EMPTY = re.compile(rb"(\r\n)+\Z")
_FIELD_BREAK = re.compile(rb"\r\n(?![ \t])")
_SLOT_SENTINEL = re.compile(rb"\x00(\d)\x00")


class DkimKeyError(ValueError):
    """The key file named in `dkim.key_file` cannot be used."""


ADVISED_RSA_BITS = 2048
MAKE_KEY = "make one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out FILE`"


def key_file_problem(path: Path, written: str) -> tuple[str, bool] | None:
    """Why the DKIM key at `path` (`written` as in the channel file) will not do, and
    whether that is only a warning; None when it is a usable key of a good size."""
    where = f"dkim.key_file {written!r}"
    if not path.exists():
        return f"{where}: no such file ({path}); {MAKE_KEY}, or fix the path", False
    if path.is_dir():
        return f"{where} is a folder; name the private key file inside it", False
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return f"{where} cannot be read ({reason}); let the service's user read it", False
    try:
        key = DkimKey.from_bytes(data, where)
    except DkimKeyError as exc:
        return f"{exc}; {MAKE_KEY} (or -algorithm ed25519)", False
    if key.algorithm == b"rsa-sha256" and key.bits < ADVISED_RSA_BITS:
        message = (
            f"{where} is a {key.bits}-bit RSA key; receivers such as Gmail expect "
            f"{ADVISED_RSA_BITS} bits: {MAKE_KEY} and publish its record"
        )
        return message, True
    return None


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """One header field in relaxed canonical form (RFC 6376 3.4.2), CRLF-terminated."""
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value + b"\r\n"


def relaxed_body(segment: bytes) -> bytes:
    """Relaxed body canonicalisation of one piece of the body (line-local rules only)."""
    return _WSP_EOL.sub(b"\r\n", _WSP.sub(b" ", segment))


@dataclass(frozen=True)
class DkimKey:
    """A private key and the DKIM algorithm it signs with."""

    algorithm: bytes  # b"rsa-sha256" | b"ed25519-sha256"
    sign: Callable[[bytes], bytes]  # SHA-256 digest of the signed headers -> signature
    public_record: str  # the TXT record to publish at <selector>._domainkey.<domain>
    bits: int = 256  # the RSA modulus size; Ed25519 keys are 256 bits
    material: bytes = b""  # the key file's bytes, for a signing process (see signing.py)

    @classmethod
    def from_file(cls, path: Path) -> DkimKey:
        """An RSA (PEM) or Ed25519 (PEM, or dknewkey's base64 seed) private key."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DkimKeyError(f"dkim.key_file {path}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "dkim key") -> DkimKey:
        key: object
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=None)
            else:
                key = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(data))
        except (ValueError, TypeError) as exc:
            raise DkimKeyError(
                f"{where}: not an unencrypted RSA or Ed25519 private key ({exc})"
            ) from exc
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 1024:
                raise DkimKeyError(f"{where}: RSA keys need at least 1024 bits (2048 advised)")
            return replace(cls._rsa(key), material=data)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return replace(cls._ed25519(key), material=data)
        raise DkimKeyError(f"{where}: only RSA and Ed25519 keys can sign DKIM")

    @classmethod
    def _rsa(cls, key: rsa.RSAPrivateKey) -> DkimKey:
        algorithm = Prehashed(hashes.SHA256())
        pkcs1 = padding.PKCS1v15()

        def sign(digest: bytes) -> bytes:
            return key.sign(digest, pkcs1, algorithm)

        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        record = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
        return cls(b"rsa-sha256", sign, record, key.key_size)

    @classmethod
    def _ed25519(cls, key: ed25519.Ed25519PrivateKey) -> DkimKey:
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        record = f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
        return cls(b"ed25519-sha256", key.sign, record)


@dataclass(frozen=True)
class _Field:
    name: bytes  # lower-case
    static: bytes | None  # canonical form when it has no placeholder
    raw: Segments  # the value as written, cut at placeholders


class DkimSigner:
    """Signs messages for one domain and selector."""

    def __init__(
        self,
        domain: str,
        selector: str,
        key: DkimKey,
        *,
        headers: Sequence[str] = SIGNED_HEADERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain = domain
        self.selector = selector
        self.key = key
        self.headers = tuple(h.lower() for h in headers)
        self.clock = clock

    def prepare(self, template: MessageTemplate) -> PreparedSignature:
        """Precompute everything about `template` that is the same for every recipient."""
        fields: dict[bytes, _Field] = {}
        for field in _fields(template.head):
            fields[field.name] = field  # the last instance is the one signed first
        signed = [fields[name.encode()] for name in self.headers if name.encode() in fields]
        body = template.body
        canon = [relaxed_body(piece) for piece in body.statics]
        last = _TRAILING_EMPTY.sub(b"", canon[-1])
        canon[-1] = last + b"\r\n" if last or len(canon) > 1 else b""
        prefix = hashlib.sha256(canon[0])
        return PreparedSignature(
            self, signed, prefix, tuple(zip(body.slots, canon[1:], strict=True))
        )

    def sign(self, message: bytes) -> bytes:
        """The DKIM-Signature header field for a whole message (no placeholders)."""
        return self.prepare(MessageTemplate.parse(message)).header(())


class PreparedSignature:
    """Signs one template's messages: `header(values)` per recipient; thread-safe."""

    def __init__(
        self,
        signer: DkimSigner,
        fields: list[_Field],
        body_prefix: hashlib._Hash,
        body_rest: tuple[tuple[Slot, bytes], ...],
    ) -> None:
        self._signer = signer
        self._fields = fields
        self._body_prefix = body_prefix
        self._body_rest = body_rest
        names = b":".join(f.name for f in fields).decode()
        self._tags = (
            f"v=1; a={signer.key.algorithm.decode()}; c=relaxed/relaxed;"
            f" d={signer.domain}; s={signer.selector};\r\n\th={names};\r\n\t"
        ).encode()

    def header(self, values: Sequence[bytes]) -> bytes:
        """`DKIM-Signature: ...` (CRLF-terminated) for the template filled with `values`."""
        body_hash = self._body_prefix.copy()
        for slot, piece in self._body_rest:
            body_hash.update(values[slot])
            body_hash.update(piece)
        bh = base64.b64encode(body_hash.digest())
        stamp = int(self._signer.clock())
        value = self._tags + b"t=%d; bh=%s;\r\n\tb=" % (stamp, bh)
        digest = hashlib.sha256()
        for field in self._fields:
            if field.static is not None:
                digest.update(field.static)
            else:
                digest.update(relaxed_header(field.name, b"".join(field.raw.fill(values))))
        digest.update(relaxed_header(b"dkim-signature", value)[:-2])  # no CRLF: RFC 6376 3.7
        signature = base64.b64encode(self._signer.key.sign(digest.digest()))
        folded = b"\r\n\t ".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return b"DKIM-Signature: " + value + folded + b"\r\n"


def _fields(head: Segments) -> list[_Field]:
    """The header fields of a template's head, each value cut at its placeholders."""
    # Placeholders become NUL-delimited slot numbers (NUL never occurs in a header) so
    # the head can be split into fields with ordinary unfolding rules.
    text = b"".join(head.fill([b"\x00%d\x00" % slot for slot in Slot]))
    fields: list[_Field] = []
    for field in _FIELD_BREAK.split(text):
        name, colon, value = field.partition(b":")
        if not colon:
            continue
        pieces = _SLOT_SENTINEL.split(value)
        raw = Segments(tuple(pieces[0::2]), tuple(Slot(int(p)) for p in pieces[1::2]))
        static = relaxed_header(name, value) if not raw.slots else None
        fields.append(_Field(name.strip().lower(), static, raw))
    return fields
