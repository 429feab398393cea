"""The audit log: every change to an audited row, in the same transaction, hash-chained.

``install(sessionmaker)`` adds an ``after_flush`` listener: each new, changed or deleted
``Audited`` object becomes an event (who, when, what, before/after from the attribute history).
A change with no actor or action raises: nothing is forgotten (unlike a log that is silent when
no request is set).  Appending takes the one-row head with ``UPDATE ... RETURNING`` (a row lock
on PostgreSQL, the write lock on SQLite, both held until commit), so the chain cannot fork.

``hash = sha256(prev_hash + body)``, ``body`` = canonical JSON of the event, stored as hashed.

Event codes (``action``): ``org.create``, ``org.update``, ``user.create``, ``user.update``,
``grant.add``, ``grant.remove``, ``token.create``, ``token.revoke``, ``system.create``,
``system.update``, ``scan.request``, ``scan.claim``, ``scan.finish``, ``scan.fail``,
``schedule.create``, ``schedule.delete``, ``schedule.enqueue``, ``finding.apply_scan``,
``finding.accept``, ``finding.false_positive``, ``finding.reopen``, ``auth.login``,
``auth.logout``, ``auth.lockout``, ``attestation.add``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from camaudit.store.models import utcnow
from camaudit.store.platform_models import Audited, AuditEvent, AuditHead

GENESIS = "0" * 64


class AuditError(RuntimeError):
    pass


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _values(obj: Any) -> dict[str, Any]:
    redact = getattr(obj, "_audit_redact", ())
    out = {}
    for col in inspect(obj).mapper.column_attrs:
        v = getattr(obj, col.key)
        out[col.key] = "[redacted]" if (col.key in redact and v is not None) else _plain(v)
    return out


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    redact = getattr(obj, "_audit_redact", ())
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    state = inspect(obj)
    for col in state.mapper.column_attrs:
        hist = state.attrs[col.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if col.key in redact:
            before[col.key], after[col.key] = "[redacted]", "[changed]"
        else:
            before[col.key], after[col.key] = _plain(old), _plain(new)
    return before, after


@dataclass
class Event:
    action: str
    object_type: str
    object_id: str
    org_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def append(conn: Connection, events: list[Event], *, actor_id: int | None, actor_name: str,
           request_id: str = "") -> None:
    """Append events to the chain inside the caller's transaction."""
    if not events:
        return
    row = conn.execute(text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash"),
                       {"n": len(events)}).one()
    last_seq, prev = int(row[0]), str(row[1])
    seq = last_seq - len(events)
    now = utcnow()
    rows = []
    for ev in events:
        seq += 1
        data = {"seq": seq, "at": _plain(now), "actor_id": actor_id, "actor_name": actor_name,
                "org_id": ev.org_id, "action": ev.action, "object_type": ev.object_type,
                "object_id": ev.object_id, "before": ev.before, "after": ev.after, "request_id": request_id}
        body = canonical(data)
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        rows.append({**data, "at": now, "body": body, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(AuditEvent), rows)
    conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


def record(session: Session, action: str, object_type: str, object_id: Any, org_id: int | None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """An event that is not a row change (a login, a scan claimed by a worker)."""
    actor = session.info.get("audit_actor")
    if actor is None:
        raise AuditError(f"audit event {action!r} without an actor")
    append(session.connection(), [Event(action, object_type, str(object_id), org_id,
                                        _plain(before), _plain(after))],
           actor_id=actor[0], actor_name=actor[1], request_id=session.info.get("audit_request", ""))


def _after_flush(session: Session, _ctx: Any) -> None:
    events: list[Event] = []
    action = session.info.get("audit_action")
    for kind, objs in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if not isinstance(obj, Audited):
                continue
            if kind == "update" and not session.is_modified(obj, include_collections=False):
                continue
            if kind == "create":
                before, after = None, _values(obj)
            elif kind == "delete":
                before, after = _values(obj), None
            else:
                before, after = _changes(obj)
            org_id = getattr(obj, "org_id", None)
            pk = inspect(obj).identity
            events.append(Event(action or "", obj.__tablename__, ",".join(str(p) for p in pk or ()),  # type: ignore[attr-defined]
                                org_id, before, after))
    if not events:
        return
    actor = session.info.get("audit_actor")
    if actor is None or not action:
        raise AuditError("a change to an audited row without an actor and an action "
                         f"({events[0].object_type} {events[0].object_id})")
    append(session.connection(), events, actor_id=actor[0], actor_name=actor[1],
           request_id=session.info.get("audit_request", ""))


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (AuditEvent, AuditHead)):
            raise AuditError("the audit log is append-only")


def install(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_flush", _before_flush)


@dataclass
class Verdict:
    ok: bool
    events: int
    head: str
    problem: str = ""


def verify(conn: Connection) -> Verdict:
    """Recompute the chain from the first event; compare with the head."""
    prev = GENESIS
    n = 0
    for ev in conn.execute(select(AuditEvent).order_by(AuditEvent.seq)).all():
        e = ev._mapping
        n += 1
        if e["seq"] != n:
            return Verdict(False, n, prev, f"event {n} is missing (found seq {e['seq']})")
        if e["prev_hash"] != prev:
            return Verdict(False, n, prev, f"event {n}: previous hash does not match event {n - 1}")
        if hashlib.sha256((prev + e["body"]).encode()).hexdigest() != e["hash"]:
            return Verdict(False, n, prev, f"event {n}: hash does not match its body")
        body = json.loads(e["body"])
        for col in ("seq", "actor_id", "actor_name", "org_id", "action", "object_type", "object_id",
                    "before", "after", "request_id"):
            if body.get(col) != e[col]:
                return Verdict(False, n, prev, f"event {n}: column {col} differs from the hashed body")
        prev = e["hash"]
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        return Verdict(False, n, prev, "the audit head is missing")
    if head[0] != n or head[1] != prev:
        return Verdict(False, n, prev, f"the head says {head[0]} events ending {head[1][:12]}, "
                                       f"the chain has {n} ending {prev[:12]}")
    return Verdict(True, n, prev)


def head_seq(conn: Connection) -> int:
    return int(conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar() or 0)
