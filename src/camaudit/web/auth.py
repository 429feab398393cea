"""Login, logout and optional OIDC single sign-on (Authlib's Starlette client).

Passwords: argon2 (pwdlib), same timing for unknown names; 5 failures within 30 s lock the
name for 5 minutes.  The session row lives in the database (revocable); the cookie (signed by
Starlette's SessionMiddleware: HttpOnly, SameSite=Lax, Secure) holds only its token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from camaudit.store import users
from camaudit.web.deps import csrf_protect, platform

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return "/"
    return value


def login_session(request: Request, user_id: int) -> None:
    request.session.clear()
    token, _csrf = users.start_session(platform(request), user_id)
    request.session["sid"] = token


@router.post("/login", dependencies=[Depends(csrf_protect)])
def login(request: Request, username: Annotated[str, Form(max_length=150)],
          password: Annotated[str, Form(max_length=1024)], next: Annotated[str, Form(max_length=500)] = "/") -> Any:
    try:
        uid = users.authenticate(platform(request), username, password)
    except users.LoginRefused as exc:
        return RedirectResponse(f"/login?error={'locked' if exc.reason == 'locked' else '1'}", status_code=303)
    login_session(request, uid)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request) -> Any:
    sid = request.session.get("sid")
    if sid:
        users.end_session(platform(request), sid)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _oauth(request: Request) -> Any:
    client = getattr(request.app.state, "oidc", None)
    if client is None:
        raise HTTPException(404, "single sign-on is not configured")
    return client


@router.get("/auth/oidc/login")
async def oidc_login(request: Request) -> Any:
    client = _oauth(request)
    return await client.authorize_redirect(request, str(request.url_for("oidc_callback")))


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request) -> Any:
    client = _oauth(request)
    from authlib.integrations.base_client import OAuthError

    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        raise HTTPException(400, f"single sign-on failed: {exc.error}") from None
    info = token.get("userinfo") or {}
    uid = users.oidc_user(platform(request), str(info.get("iss", "")), str(info.get("sub", "")))
    if uid is None:  # roles stay local: an administrator links the identity first
        return RedirectResponse("/login?error=sso", status_code=303)
    login_session(request, uid)
    return RedirectResponse("/", status_code=303)


def oidc_client(settings: Any) -> Any:
    if not settings.oidc_issuer:
        return None
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    return oauth.register("province", client_id=settings.oidc_client_id,
                          client_secret=settings.oidc_client_secret,
                          server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
                          client_kwargs={"scope": "openid profile"})
