"""Signed tokens: scoped to a purpose, tamper-proof, expiring (confirm) or versioned."""

from __future__ import annotations

import base64
import hmac
from datetime import timedelta

import pytest

from broadcaster.store.testing import ManualClock
from broadcaster.subscribers.api import TokenPurpose, Tokens
from broadcaster.subscribers.tokens import CONFIRM_MAX_AGE, SignedTokens
from tests.subscribers.conftest import SECRET

PURPOSES: tuple[TokenPurpose, ...] = ("confirm", "unsubscribe", "preferences")


def test_signed_tokens_implement_the_interface(tokens: SignedTokens) -> None:
    implementation: Tokens = tokens
    assert implementation is tokens


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_token_reads_back_for_its_purpose_only(tokens: SignedTokens, purpose: str) -> None:
    token = tokens.make(purpose, 42, 3)  # type: ignore[arg-type]
    assert tokens.read(token, purpose) == (42, 3)  # type: ignore[arg-type]
    for other in PURPOSES:
        if other != purpose:
            assert tokens.read(token, other) is None
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in a URL path


def test_tampered_tokens_and_other_keys_are_refused(tokens: SignedTokens) -> None:
    token = tokens.make("unsubscribe", 42, 0)
    subscriber, version, issued, mac = token.split(".")
    assert (subscriber, version) == ("42", "0")
    assert tokens.read(f"43.{version}.{issued}.{mac}", "unsubscribe") is None
    assert tokens.read(f"{subscriber}.{version}.{int(issued) + 1}.{mac}", "unsubscribe") is None
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert tokens.read(f"{subscriber}.{version}.{issued}.{flipped}", "unsubscribe") is None
    assert SignedTokens(b"another secret key, 32 bytes ok!").read(token, "unsubscribe") is None
    for junk in ("", ".", "a.b.c", "a.b.c.d", "x" * 500, token + "x", "４２" + token[2:]):
        assert tokens.read(junk, "unsubscribe") is None


def test_tokens_are_short_and_their_format_is_stable(tokens: SignedTokens) -> None:
    """The format is documented in broadcaster/subscribers/tokens.py: links in sent mail rely on it."""
    token = tokens.make("preferences", 123456, 2)
    assert len(token) < 60
    payload, mac = token.rsplit(".", 1)
    key = hmac.digest(SECRET, b"broadcaster.tokens.v2:preferences", "sha256")
    expected = base64.urlsafe_b64encode(hmac.digest(key, payload.encode(), "sha256")[:16])
    assert mac == expected.decode().rstrip("=")
    assert tokens.read(token, "preferences") == (123456, 2)


def test_confirm_tokens_expire_after_seven_days(tokens: SignedTokens, clock: ManualClock) -> None:
    token = tokens.make("confirm", 7, 0)
    unsubscribe = tokens.make("unsubscribe", 7, 0)
    clock.advance(timedelta(seconds=CONFIRM_MAX_AGE))
    assert tokens.read(token, "confirm") == (7, 0)
    clock.advance(timedelta(seconds=1))
    assert tokens.read(token, "confirm") is None
    assert tokens.read(token, "confirm", max_age=CONFIRM_MAX_AGE * 2) == (7, 0)
    clock.advance(timedelta(days=3650))
    assert tokens.read(unsubscribe, "unsubscribe") == (7, 0)  # old mails keep working
    assert tokens.read(unsubscribe, "unsubscribe", max_age=60) is None


def test_a_token_carries_its_version_so_a_bump_makes_it_stale(tokens: SignedTokens) -> None:
    """The caller refuses a token whose version is not the subscriber's token_version."""
    old, current = tokens.make("preferences", 9, 0), tokens.make("preferences", 9, 1)
    assert tokens.read(old, "preferences") == (9, 0)
    assert tokens.read(current, "preferences") == (9, 1)
    # The version is signed: it cannot be edited into the current one.
    subscriber, _, issued, mac = old.split(".")
    assert tokens.read(f"{subscriber}.1.{issued}.{mac}", "preferences") is None
