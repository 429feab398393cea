"""Request dependencies: who is calling, the scoped database handle, CSRF.

The only way a route reaches the database is ``Annotated[Scoped, Depends(scoped_for(perm))]``;
the returned dependency carries ``.perm`` so the authorisation-matrix test can read every
route's permission from the route tree.  No permission, or an object out of scope: 404."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import HTTPException, Request

from camaudit.store import users
from camaudit.store.access import Principal, Scoped
from camaudit.store.platform import Platform

SAFE = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(Exception):
    """A page asked for a principal and there is none: redirect to /login (app.py)."""


def platform(request: Request) -> Platform:
    return request.app.state.platform


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = uuid.uuid4().hex
    return rid


def current_principal(request: Request) -> Principal | None:
    """From a bearer token (API), else the session cookie.  The API takes the cookie only on
    safe methods: a forged cross-site POST to the API carries no token and is refused."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    who: Principal | None = None
    auth = request.headers.get("authorization", "")
    plat = platform(request)
    if auth[:7].lower() == "bearer ":
        who = users.token_principal(plat, auth[7:].strip(), request_id(request))
    elif not _is_api(request) or request.method in SAFE:
        found = users.session_user(plat, request.session.get("sid", ""))
        if found is not None:
            who = users.principal(plat, found[0], request_id=request_id(request))
            request.state.csrf = found[1]
    request.state.principal = who
    return who


def require_principal(request: Request) -> Principal:
    who = current_principal(request)
    if who is None:
        if _is_api(request):
            raise HTTPException(401, "authentication required (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
        raise LoginRequired()
    return who


def scoped_for(perm: str) -> Callable[[Request], Iterator[Scoped]]:
    def dependency(request: Request) -> Iterator[Scoped]:
        who = require_principal(request)
        if not who.has(perm):
            raise HTTPException(404, "not found")
        with platform(request).scoped(who, perm) as db:
            yield db

    dependency.perm = perm  # type: ignore[attr-defined]
    dependency.__name__ = f"scoped_for_{perm.replace(':', '_')}"
    return dependency


def csrf_token(request: Request) -> str:
    """The synchronizer token to put in a form: the session row's, or (before login) one kept
    in the signed cookie session."""
    current_principal(request)
    tok = getattr(request.state, "csrf", None)
    if tok:
        return tok
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return tok


async def csrf_protect(request: Request) -> None:
    """On every unsafe page route: the form field ``csrf_token`` (or header X-CSRF-Token) must
    equal the session's token.  403 otherwise, whoever the caller is."""
    if request.method in SAFE:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value: Any = form.get("csrf_token", "")
        sent = value if isinstance(value, str) else ""
    current_principal(request)
    expected = getattr(request.state, "csrf", None) or request.session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise HTTPException(403, "the form's security token is missing or wrong: reload the page and try again")
