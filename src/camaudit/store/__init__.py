"""The inventory and scan history (SQLite by default, PostgreSQL for scale)."""

from camaudit.store.db import Store, default_url

__all__ = ["Store", "default_url"]
