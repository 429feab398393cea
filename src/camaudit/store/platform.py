"""The platform's door to the database: one ``Platform`` per process, ``Scoped`` handles from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from camaudit.store import audit
from camaudit.store.access import Principal, Scoped
from camaudit.store.db import Store


class Platform:
    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.store = Store(url, migrate=migrate)  # the engine's writer (same database)
        self.url = self.store.url
        self.engine = self.store.engine
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self.sessions)

    def close(self) -> None:
        self.store.close()

    @contextmanager
    def scoped(self, who: Principal, perm: str) -> Iterator[Scoped]:
        """A handle for one operation; what is not committed inside is rolled back."""
        with self.sessions() as s:
            yield Scoped(s, who, perm)

    @contextmanager
    def system(self, name: str = "system", perm: str = "org:read") -> Iterator[Scoped]:
        """Unscoped and audited as ``name`` (workers, the admin command, the scheduler)."""
        with self.scoped(Principal.system(name), perm) as db:
            yield db

    def verify_audit(self) -> audit.Verdict:
        with self.engine.connect() as c:
            return audit.verify(c)
