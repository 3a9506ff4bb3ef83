"""Spoken bulletins: the radio script rendered to audio, signed bundles and podcast feeds."""
