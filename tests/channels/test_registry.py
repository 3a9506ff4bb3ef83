"""The channel registry: each `type:` builds a channel with the capabilities its call
sites look for, and `audience:` picks the email channel."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from broadcaster.channels import CHANNEL_TYPES, Channel, build_channels, postboxes
from broadcaster.channels.base import (
    BatchDeliveringChannel,
    ListMailChannel,
    PublicChannel,
    RetryingChannel,
    WithdrawingChannel,
)
from broadcaster.channels.email_desk import DeskEmailChannel
from broadcaster.channels.email_subscribers import SubscriberEmailChannel
from broadcaster.settings import Settings
from broadcaster.workspace.load import load_workspace
from tests.conftest import copy_workspace


def without(root: Path, *names: str) -> Path:
    """The workspace without these channel files (and without schedules naming them)."""
    for name in names:
        (root / "channels" / f"{name}.yaml").unlink()
    (root / "schedules.yaml").write_text(
        "timezone: Asia/Ho_Chi_Minh\nschedules: []\n", encoding="utf-8"
    )
    return root


def channels_of(root: Path) -> dict[str, Channel]:
    settings = Settings.from_environ(root, {"BROADCASTER_SECRET_KEY": "k" * 40})
    workspace, diagnostics = load_workspace(root, settings)
    assert workspace is not None, diagnostics.errors
    return build_channels(workspace, settings)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "ws")


def test_every_type_is_registered_under_its_own_name() -> None:
    assert sorted(CHANNEL_TYPES) == [
        "email",
        "facebook",
        "feed",
        "radio",
        "webhook",
        "website",
        "zalo",
    ]
    for name, kind in CHANNEL_TYPES.items():
        assert kind.type == name
        assert get_args(kind.Options.model_fields["type"].annotation) == (name,)


def test_each_channel_has_the_capabilities_its_callers_use(root: Path) -> None:
    channels = channels_of(root)
    capabilities = {
        name: {
            kind.__name__
            for kind in (
                PublicChannel,
                BatchDeliveringChannel,
                RetryingChannel,
                WithdrawingChannel,
                ListMailChannel,
            )
            if isinstance(channel, kind)
        }
        for name, channel in channels.items()
    }
    assert capabilities == {
        "website": {"PublicChannel"},
        # The feeds are also their WebSub hub: distributions go out in batches.
        "feeds": {"PublicChannel", "BatchDeliveringChannel", "WithdrawingChannel"},
        # Readers and newsrooms that were emailed a campaign are told of its withdrawal.
        "citizens": {"BatchDeliveringChannel", "ListMailChannel", "WithdrawingChannel"},
        "press-desk": {"BatchDeliveringChannel", "WithdrawingChannel"},
        "partners": {"BatchDeliveringChannel", "RetryingChannel", "WithdrawingChannel"},
    }


def test_the_audience_picks_the_email_channel(root: Path) -> None:
    channels = channels_of(root)
    assert isinstance(channels["citizens"], SubscriberEmailChannel)
    assert isinstance(channels["press-desk"], DeskEmailChannel)
    citizens = channels["citizens"]
    assert isinstance(citizens, ListMailChannel)
    assert citizens.bounce_domain == "example.gov.vn"


def test_one_off_mail_goes_out_through_the_list_and_the_desk(root: Path) -> None:
    channels = channels_of(root)
    boxes = postboxes(channels)
    assert boxes.confirmations is not None
    assert boxes.confirmations.outbound.name == "citizens"
    assert boxes.staff is not None
    assert boxes.staff.outbound.name == "press-desk"  # the desk, not the list


def test_without_a_desk_staff_mail_comes_from_the_list(root: Path) -> None:
    boxes = postboxes(channels_of(without(root, "press-desk")))
    assert boxes.staff is not None
    assert boxes.staff.outbound.name == "citizens"


def test_without_email_channels_there_is_no_one_off_mail(root: Path) -> None:
    channels = channels_of(without(root, "press-desk", "citizens"))
    assert postboxes(channels).confirmations is None
    assert postboxes(channels).staff is None
