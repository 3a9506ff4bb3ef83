"""XML-DSig enveloped signatures on alerts (`signxml`), with the key and certificate from
BROADCASTER_CAP_KEY_FILE and BROADCASTER_CAP_CERT_FILE.

The signature is the alert's last child, where the CAP 1.2 schema allows elements of the
XML-DSig namespace. RSA keys sign with RSA-SHA256, EC keys with ECDSA-SHA256; each
alert is signed once per process and then served as it is.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.signer import XMLSigner


class SigningError(Exception):
    """The configured key or certificate cannot be used (named, with what to do)."""


class AlertSigner:
    """Signs `<alert>` elements with one key and certificate."""

    def __init__(self, key: bytes, cert: bytes) -> None:
        self.key = key
        self.cert = cert
        try:
            loaded = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"the alert signing key cannot be read: {exc}") from None
        if isinstance(loaded, rsa.RSAPrivateKey):
            method = SignatureMethod.RSA_SHA256
        elif isinstance(loaded, ec.EllipticCurvePrivateKey):
            method = SignatureMethod.ECDSA_SHA256
        else:
            raise SigningError("the alert signing key must be RSA (2048 bits or more) or EC")
        self._signer = XMLSigner(signature_algorithm=method)

    @classmethod
    def from_files(cls, key_file: Path, cert_file: Path) -> AlertSigner:
        """Read both PEM files; a missing or unreadable one raises SigningError."""
        try:
            key, cert = key_file.read_bytes(), cert_file.read_bytes()
        except OSError as exc:
            raise SigningError(
                f"cannot read the alert signing key or certificate ({exc.filename}): "
                f"{exc.strerror}; check BROADCASTER_CAP_KEY_FILE and BROADCASTER_CAP_CERT_FILE"
            ) from None
        if b"PRIVATE KEY" not in key or b"CERTIFICATE" not in cert:
            raise SigningError(
                f"{key_file} must hold a PEM private key and {cert_file} a PEM certificate"
            )
        return cls(key, cert)

    def sign(self, alert: etree._Element) -> etree._Element:
        """The alert with an enveloped signature appended."""
        signed: etree._Element = self._signer.sign(
            alert, key=self.key, cert=self.cert.decode("ascii")
        )
        return signed
