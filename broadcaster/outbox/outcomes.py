"""What a delivery attempt comes to: a receipt, or one of these."""

from __future__ import annotations

from datetime import timedelta


class RetryLater(Exception):
    """A temporary failure: try again, not before `after` when given."""

    def __init__(self, reason: str, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Deferred(RetryLater):
    """Not tried yet: it must wait for an earlier delivery (ordering); not counted as an attempt."""


class DeliveryRejected(Exception):
    """A permanent failure: do not try this delivery again."""


class TechnicalFailure(DeliveryRejected):
    """The channel failed as a whole (a bug, a reload that removed it), not the recipient."""


class Withdrawn(Exception):
    """Not sent, and never to be: the recipient unsubscribed or was suppressed meanwhile."""


# What a batch delivery reports per job: a receipt, or why it was not delivered.
Outcome = str | RetryLater | DeliveryRejected | Withdrawn
