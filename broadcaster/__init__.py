"""Broadcaster: publish public-service guidance to websites, feeds, email and partners."""

__version__ = "0.1.0"
