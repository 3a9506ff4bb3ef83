"""Communications staff: accounts, sessions, API tokens, reviews and the audit log."""
