"""Text: Markdown to safe HTML and plain text, templates, the radio script, interface strings."""
