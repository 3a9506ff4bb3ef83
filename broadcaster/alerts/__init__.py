"""Public alerts: campaigns as OASIS CAP 1.2 messages, their Atom index, XML signatures."""
