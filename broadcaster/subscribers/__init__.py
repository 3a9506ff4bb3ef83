"""The citizens subscriber list: double opt-in, preferences, suppressions."""
