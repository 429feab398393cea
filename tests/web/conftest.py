"""Fixtures of the platform tests: ``db_url`` (SQLite and PostgreSQL) and ``world`` (a small
province, see platform_world.py)."""

from platform_world import db_url_fixture, world_fixture

__all__ = ["db_url_fixture", "world_fixture"]
