"""Integration tests against real servers from Debian packages (127.30.0.0/24)."""
