"""A throw-away PostgreSQL database for a test: the local server on 127.0.0.1:5432 (started with
pg_ctlcluster when it is installed and down); without it the test skips with the reason, and
fails when CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_available() -> bool:
    try:
        with create_engine(PG_ADMIN).connect():
            return True
    except Exception:
        return False


def start_postgres() -> None:
    if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           capture_output=True, timeout=60)


def need_pg() -> None:
    if not pg_available():
        start_postgres()
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")


def create_db(prefix: str = "camaudit_test") -> str:
    """A new empty database (after ``need_pg``); its URL."""
    need_pg()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_db(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()
