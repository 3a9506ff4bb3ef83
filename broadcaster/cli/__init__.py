"""The `broadcaster` command: argument parsing; the work happens in the wings it calls."""
