"""The mail engine: list messages built once and personalised per recipient, DKIM, VERP,
and the SMTP and Maildir transports the email channel sends through.

Modules: `compose` (templates with placeholders), `dkim`, `verp`, `smtp` (pooled, pipelined
connections), `maildir`, `ratelimit`, `sender` (a batch of deliveries -> outcomes).
"""

# The channel types import this package and it imports their base module: load the
# channels package first, so importing e.g. `broadcaster.mail.smtp` alone works too.
from .. import channels as _channels  # noqa: F401
