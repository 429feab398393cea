"""Who may do what, where: roles, permissions, the principal, and THE scoping function.

Every platform read and write goes through ``scoped(stmt, who, perm)``: it adds, for each table
of the statement that an organisation owns (a column ``org_id``, or the organisations table
itself), "this row's organisation lies in a subtree where ``who`` holds a role carrying
``perm``".  ``Scoped`` is the only database handle the web and the workers get; its ``get`` turns
an out-of-scope object into ``NotFound`` (a 404: whether it exists is not revealed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import json

from sqlalchemy import ColumnElement, Select, String, TypeDecorator, bindparam, false, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Alias, Join, TableClause
from sqlalchemy.sql.dml import Delete, Update
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean, Integer

from camaudit.store.platform_models import Organisation

# Permissions (API token scopes are the same names).
PERMS: dict[str, str] = {
    "org:read": "see organisations and their tree",
    "org:write": "create and rename organisations",
    "system:read": "see camera systems and their devices",
    "system:write": "register and change camera systems",
    "scan:read": "see scans, their reports and deltas",
    "scan:run": "start scans and schedule them",
    "finding:read": "see findings",
    "finding:decide": "accept a finding until a date, mark a false positive",
    "attestation:write": "record attestations with evidence",
    "stats:read": "aggregates by vendor, model, firmware, commune (small counts hidden)",
    "user:admin": "create users, grant roles",
    "audit:read": "read and verify the audit log",
}

_READ = {"org:read", "system:read", "scan:read", "finding:read", "stats:read"}
ROLE_PERMS: dict[str, frozenset[str]] = {
    "agency_operator": frozenset(_READ | {"system:write", "scan:run", "attestation:write"}),
    "agency_head": frozenset(_READ | {"system:write", "scan:run", "finding:decide", "attestation:write"}),
    "steering_officer": frozenset(_READ | {"scan:run", "finding:decide", "audit:read"}),
    "provincial_viewer": frozenset(_READ),
    "police_viewer": frozenset({"org:read", "stats:read"}),
    "market_viewer": frozenset({"org:read", "stats:read"}),
    "isp_operator": frozenset(_READ | {"system:write", "scan:run"}),
    "admin": frozenset(PERMS),
}
ROLES = tuple(ROLE_PERMS)
ROLE_NAMES = {  # shown in the UI and in `camaudit admin`
    "agency_operator": "agency operator", "agency_head": "agency head",
    "steering_officer": "steering officer / appraiser", "provincial_viewer": "provincial viewer",
    "police_viewer": "police viewer", "market_viewer": "market-surveillance viewer",
    "isp_operator": "ISP operator", "admin": "administrator",
}


class NotFound(LookupError):
    """No such object, or not in the caller's scope (the two are not told apart)."""


class Refused(PermissionError):
    """An action refused for a reason the user may know (e.g. a target out of the system's ranges)."""


class InputError(ValueError):
    """Bad input, with a message fit to show as is."""


@dataclass(frozen=True)
class Grant:
    role: str
    org_id: int
    org_name: str
    path: str


@dataclass
class Principal:
    user_id: int | None
    name: str
    display_name: str = ""
    grants: list[Grant] = field(default_factory=list)
    scopes: frozenset[str] | None = None  # an API token's scopes (None: a session, all its perms)
    everything: bool = False  # the system itself (workers, CLI admin): no scope filter
    request_id: str = ""

    @classmethod
    def system(cls, name: str = "system") -> "Principal":
        return cls(user_id=None, name=name, display_name=name, everything=True)

    def _allowed(self, role: str, perm: str) -> bool:
        return perm in ROLE_PERMS.get(role, frozenset()) and (self.scopes is None or perm in self.scopes)

    def has(self, perm: str) -> bool:
        return self.everything or any(self._allowed(g.role, perm) for g in self.grants)

    def paths(self, perm: str) -> list[str]:
        """Materialised paths of the subtrees where ``perm`` holds (nested ones dropped)."""
        paths = sorted({g.path for g in self.grants if self._allowed(g.role, perm)}, key=len)
        out: list[str] = []
        for p in paths:
            if not any(p.startswith(q) for q in out):
                out.append(p)
        return out

    def paths_any(self) -> list[str]:
        """Subtrees where this principal holds any role (with any permission its scopes allow)."""
        return sorted({g.path for g in self.grants if any(self._allowed(g.role, p) for p in PERMS)})

    def covers(self, perm: str, path: str) -> bool:
        return self.everything or any(path.startswith(p) for p in self.paths(perm))

    @property
    def roles(self) -> list[tuple[str, int, str]]:
        return [(g.role, g.org_id, g.org_name) for g in self.grants]

    @property
    def home_org_id(self) -> int | None:
        return self.grants[0].org_id if self.grants else None

    @property
    def perms(self) -> set[str]:
        return {p for p in PERMS if self.has(p)}


def org_condition(who: Principal, perm: str, path_column: Any) -> ColumnElement[bool] | None:
    """The condition on a path column; None = no restriction (the system principal)."""
    if who.everything:
        return None
    paths = who.paths(perm)
    if not paths:
        return false()
    return or_(*(path_column.startswith(p, autoescape=True) for p in paths))


def _owned(from_: Any) -> Iterator[tuple[Any, str]]:
    """(selectable, 'id'|'org_id') for each organisation-owned table in a FROM element."""
    if isinstance(from_, Join):
        yield from _owned(from_.left)
        yield from _owned(from_.right)
        return
    base = from_.element if isinstance(from_, Alias) else from_
    if isinstance(base, TableClause):
        if base.name == Organisation.__tablename__:
            yield from_, "id"
        elif "org_id" in from_.c:
            yield from_, "org_id"


class _IdList(TypeDecorator[list[int]]):
    """A list of integer ids as ONE bound parameter: an integer array on PostgreSQL, a JSON
    text elsewhere (SQLite reads it with json_each)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(ARRAY(Integer()) if dialect.name == "postgresql" else String())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        ids = [int(v) for v in value or ()]
        return ids if dialect.name == "postgresql" else json.dumps(ids)


class _InIds(ColumnElement[bool]):
    """``column IN (ids)`` with the ids in one parameter, whatever their number."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("ids", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, ids: tuple[int, ...]) -> None:
        self.column = column
        self.ids = bindparam(None, list(ids), type_=_IdList(), unique=True)


@compiles(_InIds)
def _in_ids_default(element: _InIds, compiler: Any, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.ids, **kw)}))")


@compiles(_InIds, "postgresql")
def _in_ids_pg(element: _InIds, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.ids, **kw)})"


SMALL_IN = 16  # up to this many ids a plain IN list (the planner sees the values)


def in_ids(column: Any, ids: Any) -> ColumnElement[bool]:
    """``column IN ids``.  Long lists (an organisation's subtree, the scope of a province's
    steering body: hundreds of ids) travel as one parameter: rendering and binding hundreds of
    parameters per condition cost more than the query itself.  A tuple is taken as already
    sorted and de-duplicated (the scope's ids, computed once per handle)."""
    if not isinstance(ids, tuple):
        ids = tuple(sorted({int(i) for i in ids}))
    if not ids:
        return false()
    if len(ids) <= SMALL_IN:
        return column.in_(list(ids))
    return _InIds(column, ids)


S = TypeVar("S", Select, Update, Delete)
MAX_LITERAL_IDS = 2000  # beyond this many organisations, a subquery instead of a list of ids


def scoped(stmt: S, who: Principal, perm: str, ids: Sequence[int] | None = None) -> S:
    """The scoping function: ``stmt`` restricted to rows of organisations where ``who`` holds
    ``perm``.  Every platform query is built through it.  ``ids`` (the organisations of those
    subtrees, looked up once per request by ``Scoped``) lets the planner see how selective the
    filter is; without it, a subquery on the materialised paths does the same."""
    if who.everything:
        return stmt
    if ids is not None and len(ids) <= MAX_LITERAL_IDS:
        found = False
        froms = stmt.get_final_froms() if isinstance(stmt, Select) else [stmt.table]
        done: set[tuple[int, str]] = set()
        for sel, col in _owned_all(froms):
            found = True
            if (id(sel), col) not in done:  # a table reached twice through joins: one condition
                done.add((id(sel), col))
                stmt = stmt.where(in_ids(sel.c[col], ids))
        if not found:
            raise RuntimeError("scoped() on a statement over no organisation-owned table")
        return stmt
    cond = org_condition(who, perm, Organisation.path)
    if isinstance(stmt, Select):
        froms = stmt.get_final_froms()
    else:
        froms = [stmt.table]
    found = False
    for sel, col in _owned_all(froms):
        found = True
        if col == "id" and sel is Organisation.__table__:
            stmt = stmt.where(cond)  # type: ignore[arg-type]
        else:
            sub = select(Organisation.id).where(cond)  # type: ignore[arg-type]
            stmt = stmt.where(sel.c[col].in_(sub.scalar_subquery()))
    if not found:
        raise RuntimeError("scoped() on a statement over no organisation-owned table")
    return stmt


def _owned_all(froms: Any) -> Iterator[tuple[Any, str]]:
    for f in froms:
        yield from _owned(f)


T = TypeVar("T")


class Scoped:
    """A session bound to a principal and the permission the current operation needs."""

    def __init__(self, session: Session, who: Principal, perm: str) -> None:
        self.session = session
        self.who = who
        self.perm = perm
        self._ids: dict[str, tuple[int, ...]] = {}

    def org_ids(self, perm: str | None = None) -> tuple[int, ...]:
        """The organisations where the principal holds ``perm`` (once per handle)."""
        perm = perm or self.perm
        if perm not in self._ids:
            cond = org_condition(self.who, perm, Organisation.path)
            stmt = select(Organisation.id) if cond is None else select(Organisation.id).where(cond)
            self._ids[perm] = tuple(sorted(set(self.session.scalars(stmt))))
        return self._ids[perm]

    def select(self, stmt: Select, perm: str | None = None) -> Select:
        if self.who.everything:
            return stmt
        return scoped(stmt, self.who, perm or self.perm, self.org_ids(perm))

    def scalars(self, stmt: Select, perm: str | None = None) -> list[Any]:
        return list(self.session.scalars(self.select(stmt, perm)))

    def scalar(self, stmt: Select, perm: str | None = None) -> Any:
        return self.session.scalar(self.select(stmt, perm))

    def rows(self, stmt: Select, perm: str | None = None) -> list[Any]:
        return list(self.session.execute(self.select(stmt, perm)).all())

    def get(self, model: type[T], ident: Any, perm: str | None = None) -> T:
        pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
        obj = self.session.scalar(self.select(select(model).where(pk == ident), perm))
        if obj is None:
            raise NotFound(f"no {model.__tablename__.rstrip('s').replace('_', ' ')} {ident}")  # type: ignore[attr-defined]
        return obj

    def org(self, org_id: Any, perm: str | None = None) -> Organisation:
        try:
            oid = int(org_id)
        except (TypeError, ValueError):
            raise NotFound(f"no organisation {org_id!r}") from None
        return self.get(Organisation, oid, perm)

    def can(self, perm: str, org: Organisation) -> bool:
        return self.who.covers(perm, org.path)

    def ensure_in_scope(self, obj: Any, perm: str | None = None) -> None:
        """NetBox's re-check after a write: the written row must lie in scope, or roll back."""
        self.session.flush()
        org_id = obj.id if isinstance(obj, Organisation) else obj.org_id
        path: str | None
        if isinstance(obj, Organisation):  # a new one is not in this session's list of ids yet
            path = obj.path
        else:
            path = self.session.scalar(select(Organisation.path).where(Organisation.id == org_id))
        if path is None or not self.who.covers(perm or self.perm, path):
            self.session.rollback()
            raise NotFound(f"no organisation {org_id}")

    @contextmanager
    def action(self, name: str) -> Iterator["Scoped"]:
        """One audited operation: every change inside is logged under ``name`` and committed
        before the block returns (so the response is sent only after the commit).  In a batch
        (``session.info["defer_commit"]``, e.g. ``admin.apply``) it is flushed and the caller
        commits everything at once or nothing."""
        info = self.session.info
        info["audit_actor"] = (self.who.user_id, self.who.name)
        info["audit_action"] = name
        info["audit_request"] = self.who.request_id
        deferred = bool(info.get("defer_commit"))
        try:
            yield self
            if deferred:
                self.session.flush()
            else:
                self.session.commit()
        except BaseException:
            if not deferred:
                self.session.rollback()
            raise
        finally:
            info.pop("audit_action", None)
