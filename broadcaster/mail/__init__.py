"""The mail engine: list messages built once and personalised per recipient, DKIM, VERP,
and the SMTP and Maildir transports the email channel sends through.

Modules: `compose` (templates with placeholders), `dkim`, `verp`, `smtp` (pooled, pipelined
connections), `maildir`, `ratelimit`, `sender` (a batch of deliveries -> outcomes).
"""
