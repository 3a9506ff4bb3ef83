"""Media partners: the registry of webhook endpoints, their secrets, and how they are reached."""
