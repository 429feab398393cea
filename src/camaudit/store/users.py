"""People: users, role grants, passwords (argon2 via pwdlib), login lockout, DB-backed sessions
and scoped API tokens.  Authentication runs before there is a principal, so these functions
take the ``Platform`` and open their own (audited) sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from camaudit.store import audit
from camaudit.store.access import PERMS, ROLE_PERMS, ROLES, Grant, InputError, NotFound, Principal, Scoped
from camaudit.store.models import utcnow
from camaudit.store.platform import Platform
from camaudit.store.platform_models import ApiToken, LoginThrottle, Organisation, RoleGrant, User, WebSession

HASHER = PasswordHash.recommended()
_DUMMY = HASHER.hash("not a password: equal timing for unknown users")
LOCK_FAILURES = 5  # failures ...
LOCK_WINDOW = dt.timedelta(seconds=30)  # ... within this window ...
LOCK_TIME = dt.timedelta(minutes=5)  # ... lock the name this long (as the ministry asks of cameras)
SESSION_TTL = dt.timedelta(hours=12)
MIN_PASSWORD = 10


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InputError("a password is at most 1024 characters")


def _user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "active": u.active}


def create_user(db: Scoped, *, username: str, password: str | None, display_name: str = "",
                oidc: tuple[str, str] | None = None) -> dict[str, Any]:
    """A user with no role yet (grant one with ``grant``).  Needs user:admin somewhere."""
    if not db.who.has("user:admin"):
        raise NotFound("no such route")
    username = (username or "").strip()
    if not username or len(username) > 150 or any(c.isspace() for c in username):
        raise InputError("a user name is 1 to 150 characters without spaces")
    if password is not None:
        check_password(password)
    with db.action("user.create"):
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise InputError(f"user {username!r} exists already")
        u = User(username=username, display_name=(display_name or username)[:300],
                 password_hash=HASHER.hash(password) if password else None,
                 oidc_iss=oidc[0] if oidc else None, oidc_sub=oidc[1] if oidc else None)
        db.session.add(u)
    return _user_dict(u)


def set_password(db: Scoped, user_id: int, password: str) -> None:
    check_password(password)
    u = _user_in_scope(db, user_id)
    with db.action("user.update"):
        u.password_hash = HASHER.hash(password)


def _user_in_scope(db: Scoped, user_id: Any) -> User:
    """A user is in an administrator's scope when one of its grants is (or it has none yet)."""
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        raise NotFound(f"no user {user_id!r}") from None
    u = db.session.get(User, uid)
    if u is None:
        raise NotFound(f"no user {user_id}")
    grants = db.session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == uid).limit(1))
    if grants is not None and not db.scalars(select(RoleGrant.id).where(RoleGrant.user_id == uid), "user:admin"):
        raise NotFound(f"no user {user_id}")
    if not db.who.has("user:admin"):
        raise NotFound(f"no user {user_id}")
    return u


def grant(db: Scoped, *, user_id: Any, org_id: Any, role: str) -> dict[str, Any]:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    org = db.org(org_id, "user:admin")
    u = _user_in_scope(db, user_id)
    with db.action("grant.add"):
        existing = db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == u.id, RoleGrant.org_id == org.id,
                                                             RoleGrant.role == role))
        if existing is None:
            existing = RoleGrant(user_id=u.id, org_id=org.id, role=role)
            db.session.add(existing)
        db.ensure_in_scope(existing, "user:admin")
    return {"id": existing.id, "user_id": u.id, "org_id": org.id, "role": role}


def revoke_grant(db: Scoped, grant_id: Any) -> None:
    g = db.get(RoleGrant, grant_id, "user:admin")
    with db.action("grant.remove"):
        db.session.delete(g)


def list_users(db: Scoped) -> list[dict[str, Any]]:
    rows = db.rows(select(RoleGrant, User, Organisation.name).join(User, User.id == RoleGrant.user_id)
                   .join(Organisation, Organisation.id == RoleGrant.org_id).order_by(User.username), "user:admin")
    out: dict[int, dict[str, Any]] = {}
    for g, u, org_name in rows:
        d = out.setdefault(u.id, {**_user_dict(u), "grants": []})
        d["grants"].append({"id": g.id, "role": g.role, "org_id": g.org_id, "org_name": org_name})
    return list(out.values())


# -- principals ------------------------------------------------------------------------------

def principal(platform: Platform, user_id: int, *, scopes: frozenset[str] | None = None,
              request_id: str = "") -> Principal | None:
    with platform.sessions() as s:
        u = s.get(User, user_id)
        if u is None or not u.active:
            return None
        rows = s.execute(select(RoleGrant.role, Organisation.id, Organisation.name, Organisation.path)
                         .join(Organisation, Organisation.id == RoleGrant.org_id)
                         .where(RoleGrant.user_id == user_id).order_by(Organisation.path)).all()
        return Principal(user_id=u.id, name=u.username, display_name=u.display_name,
                         grants=[Grant(r, oid, name, path) for r, oid, name, path in rows],
                         scopes=scopes, request_id=request_id)


# -- login and lockout -----------------------------------------------------------------------

class LoginRefused(Exception):
    def __init__(self, reason: str) -> None:  # "invalid" | "locked"
        super().__init__(reason)
        self.reason = reason


def authenticate(platform: Platform, username: str, password: str, *, now: dt.datetime | None = None,
                 _retry: bool = False) -> int:
    """The user id, or LoginRefused("invalid"|"locked").  Unknown names are hashed too (same
    timing) and locked the same way (no way to tell which names exist)."""
    now = now or utcnow()
    username = (username or "")[:150]
    with platform.sessions() as s:
        s.info["audit_actor"] = (None, username or "?")
        th = s.get(LoginThrottle, username)
        if th is not None and th.locked_until is not None and _aware(th.locked_until) > now:  # type: ignore[operator]
            HASHER.verify(password[:1024], _DUMMY)
            raise LoginRefused("locked")
        u = s.scalar(select(User).where(User.username == username))
        ok = False
        if u is not None and u.active and u.password_hash:
            ok, new_hash = HASHER.verify_and_update(password[:1024], u.password_hash)
            if ok and new_hash:
                s.info["audit_action"] = "user.update"
                u.password_hash = new_hash
        else:
            HASHER.verify(password[:1024], _DUMMY)
        if ok and u is not None:
            if th is not None:
                s.delete(th)
            s.commit()
            return u.id
        if th is None:
            th = LoginThrottle(username=username, failures=[])
            s.add(th)
        recent = [f for f in th.failures if dt.datetime.fromisoformat(f) > now - LOCK_WINDOW]
        recent.append(now.isoformat())
        th.failures = recent[-LOCK_FAILURES:]
        if len(recent) >= LOCK_FAILURES:
            th.locked_until = now + LOCK_TIME
            th.failures = []
            audit.record(s, "auth.lockout", "user", username, None, after={"until": th.locked_until})
        try:
            s.commit()
        except IntegrityError:  # another failure for the same new name at the same moment
            s.rollback()
            if not _retry:
                return authenticate(platform, username, password, now=now, _retry=True)
    raise LoginRefused("invalid")


def start_session(platform: Platform, user_id: int) -> tuple[str, str]:
    """(session token for the cookie, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with platform.sessions() as s:
        s.info["audit_actor"] = (user_id, str(user_id))
        s.add(WebSession(id=_sha(token), user_id=user_id, csrf_token=csrf, expires_at=utcnow() + SESSION_TTL))
        s.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
        audit.record(s, "auth.login", "user", user_id, None)
        s.commit()
    return token, csrf


def session_user(platform: Platform, token: str) -> tuple[int, str] | None:
    """(user id, CSRF token) of a live session."""
    if not token or len(token) > 200:
        return None
    with platform.sessions() as s:
        row = s.get(WebSession, _sha(token))
        if row is None or row.revoked or _aware(row.expires_at) < utcnow():  # type: ignore[operator]
            return None
        return row.user_id, row.csrf_token


def end_session(platform: Platform, token: str) -> None:
    with platform.sessions() as s:
        row = s.get(WebSession, _sha(token))
        if row is not None:
            row.revoked = True
            s.info["audit_actor"] = (row.user_id, str(row.user_id))
            audit.record(s, "auth.logout", "user", row.user_id, None)
            s.commit()


# -- API tokens ------------------------------------------------------------------------------

def create_token(db: Scoped, *, name: str, scopes: list[str], days: int | None = 365) -> dict[str, Any]:
    """A token for the caller itself, limited to ``scopes`` (permission names)."""
    bad = [x for x in scopes if x not in PERMS]
    if bad or not scopes:
        raise InputError(f"unknown scope(s) {', '.join(bad) or '(none given)'}; scopes: {', '.join(PERMS)}")
    if db.who.user_id is None:
        raise InputError("tokens belong to a user")
    beyond = sorted(set(scopes) - db.who.perms)  # a token never does more than its user (or its maker)
    if beyond:
        raise InputError(f"scope(s) {', '.join(beyond)} go beyond what this user may do; "
                         f"scopes held: {', '.join(sorted(db.who.perms)) or '(none)'}")
    raw = "cam_" + secrets.token_urlsafe(32)
    with db.action("token.create"):
        t = ApiToken(user_id=db.who.user_id, name=(name or "")[:200], token_hash=_sha(raw), scopes=sorted(scopes),
                     expires_at=utcnow() + dt.timedelta(days=days) if days else None)
        db.session.add(t)
    return {"id": t.id, "name": t.name, "scopes": t.scopes, "token": raw,
            "expires_at": t.expires_at.isoformat() if t.expires_at else None}


def _token_dict(t: ApiToken) -> dict[str, Any]:
    exp, made = _aware(t.expires_at), _aware(t.created_at)
    return {"id": t.id, "name": t.name, "scopes": list(t.scopes or []),
            "created_at": made.isoformat(timespec="seconds") if made else None,
            "expires_at": exp.isoformat(timespec="seconds") if exp else None, "revoked": bool(t.revoked),
            "expired": exp is not None and exp < utcnow()}


def list_tokens(db: Scoped) -> list[dict[str, Any]]:
    """The caller's own API tokens (never anyone else's, never the secret), newest first."""
    if db.who.user_id is None:
        return []
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == db.who.user_id)
                              .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    return [_token_dict(t) for t in rows]


def revoke_token(db: Scoped, token_id: Any) -> dict[str, Any]:
    """Revoke one of the caller's own tokens; another user's token is not found (404)."""
    try:
        tid = int(token_id)
    except (TypeError, ValueError):
        raise NotFound(f"no token {token_id!r}") from None
    t = db.session.get(ApiToken, tid)
    if t is None or db.who.user_id is None or t.user_id != db.who.user_id:
        raise NotFound(f"no token {token_id}")
    if not t.revoked:
        with db.action("token.revoke"):
            t.revoked = True
    return _token_dict(t)


def token_principal(platform: Platform, raw: str, request_id: str = "") -> Principal | None:
    if not raw.startswith("cam_") or len(raw) > 200:
        return None
    with platform.sessions() as s:
        t = s.scalar(select(ApiToken).where(ApiToken.token_hash == _sha(raw)))
        if t is None or t.revoked or (t.expires_at is not None and _aware(t.expires_at) < utcnow()):  # type: ignore[operator]
            return None
        user_id, scopes = t.user_id, frozenset(t.scopes)
    return principal(platform, user_id, scopes=scopes, request_id=request_id)


def oidc_user(platform: Platform, iss: str, sub: str) -> int | None:
    """The local user linked to an OIDC identity (roles stay local; no account is created)."""
    with platform.sessions() as s:
        return s.scalar(select(User.id).where(User.oidc_iss == iss, User.oidc_sub == sub, User.active.is_(True)))


ROLE_PERMS_DOC = {r: sorted(p) for r, p in ROLE_PERMS.items()}
