"""The mail engine: list messages built once and personalised per recipient, DKIM, VERP,
and the SMTP and Maildir transports the email channels send through.

Modules: `compose` (templates with placeholders), `bodies` (a publication's subject, text
and HTML), `dkim`, `verp`, `smtp` (pooled, pipelined connections), `maildir`,
`ratelimit`, `sender` (a batch of deliveries -> outcomes), `outbound` (a channel's sender,
opened on first use), `notices` (confirmations and staff mail, outside the outbox).
"""
