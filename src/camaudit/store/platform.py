"""The platform's door to the database: one ``Platform`` per process, ``Scoped`` handles from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from typing import Any

from sqlalchemy import event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from camaudit.store import audit
from camaudit.store.access import Principal, Scoped, in_ids
from camaudit.store.db import Store
from camaudit.store.models import Base
from camaudit.store.platform_models import Organisation

BACKSTOP = "scope_backstop_paths"


def _org_owned() -> list[Any]:
    return [m.class_ for m in Base.registry.mappers if "org_id" in m.columns]


def _backstop(state: ORMExecuteState) -> None:
    """Second line of defence behind ``scoped()``: every ORM statement of a user's session
    (selects including ``Session.get`` and lazy loads, updates, deletes) is limited to the
    subtrees where the user holds any role.  ``scoped()`` narrows it to the permission."""
    ids = state.session.info.get(BACKSTOP)
    if ids is None or not (state.is_select or state.is_update or state.is_delete):
        return
    opts = [with_loader_criteria(cls, in_ids(cls.org_id, ids), include_aliases=True)
            for cls in _org_owned() if cls is not Organisation]
    opts.append(with_loader_criteria(Organisation, in_ids(Organisation.id, ids), include_aliases=True))
    state.statement = state.statement.options(*opts)


class Platform:
    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.store = Store(url, migrate=migrate)  # the engine's writer (same database)
        self.url = self.store.url
        self.engine = self.store.engine
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self.sessions)
        event.listen(self.sessions, "do_orm_execute", _backstop)

    def close(self) -> None:
        self.store.close()

    @contextmanager
    def scoped(self, who: Principal, perm: str) -> Iterator[Scoped]:
        """A handle for one operation; what is not committed inside is rolled back."""
        with self.sessions() as s:
            if not who.everything:
                paths = who.paths_any()
                cond = or_(*(Organisation.path.startswith(p, autoescape=True) for p in paths)) if paths else false()
                s.info[BACKSTOP] = tuple(sorted(set(s.scalars(select(Organisation.id).where(cond)))))
            yield Scoped(s, who, perm)

    @contextmanager
    def system(self, name: str = "system", perm: str = "org:read") -> Iterator[Scoped]:
        """Unscoped and audited as ``name`` (workers, the admin command, the scheduler)."""
        with self.scoped(Principal.system(name), perm) as db:
            yield db

    def verify_audit(self) -> audit.Verdict:
        with self.engine.connect() as c:
            return audit.verify(c)
