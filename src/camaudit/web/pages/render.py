"""Render a page: the template, the common context (user, menu, CSRF token, language) and the
security headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from camaudit.web import templating
from camaudit.web.i18n import gettext as _
from camaudit.web.pages import labels


def nav_items(principal: Any, path: str) -> list[dict[str, Any]]:
    items: list[tuple[str, str, str]] = []
    has = principal.has
    from camaudit.web.pages.routes import sees_overview

    if sees_overview(principal):
        items.append(("/overview", _("Overview"), "overview"))
    home = getattr(principal, "home_org_id", None)
    if has("system:read") and home is not None:
        items.append((f"/orgs/{home}", _("My organisation"), "org"))
    if has("stats:read"):
        items.append(("/stats", _("Statistics"), "stats"))
    if has("org:read") and getattr(principal, "user_id", None) is not None:
        items.append(("/tokens", _("API tokens"), "tokens"))
    out = []
    for href, label, _key in items:
        out.append({"href": href, "label": label, "current": path == href or path.startswith(href + "/")})
    return out


def user_view(principal: Any) -> dict[str, Any] | None:
    if principal is None:
        return None
    roles = list(getattr(principal, "roles", []) or [])
    label = ", ".join(f"{labels.role_label(r[0])} — {r[2]}" for r in roles[:2]) if roles else ""
    return {"display_name": getattr(principal, "display_name", None) or principal.name, "role_label": label}


def page(request: Request, template: str, *, principal: Any = None, title: str = "", status: int = 200,
         **context: Any) -> HTMLResponse:
    from camaudit.web.deps import csrf_token

    ctx: dict[str, Any] = {
        "title": title, "user": user_view(principal), "csrf_token": csrf_token(request),
        "nav": nav_items(principal, request.url.path) if principal is not None else [],
        "request_path": request.url.path, "crumbs": None, "flash": request.query_params.get("done") and _flash(
            request.query_params.get("done", "")),
        **labels.GLOBALS,
    }
    ctx.update(context)
    html = templating.render_string(template, **ctx)
    return HTMLResponse(html, status_code=status, headers=templating.SECURITY_HEADERS)


def _flash(code: str) -> str:
    return {"system": _("The camera system was registered."), "accepted": _("The finding was accepted."),
            "fp": _("The finding was marked as a false positive."),
            "schedule": _("The schedule was saved."), "schedule_deleted": _("The schedule was deleted."),
            "attestation": _("The attestation was recorded."),
            "token_revoked": _("The token was revoked.")}.get(code, "")


def too_large_page(path: str, cookies: str, limit: int) -> HTMLResponse:
    """The 413 page of a form whose body (an evidence file) is over the upload limit; nothing
    was read into the application, so nothing was stored."""
    from http.cookies import CookieError, SimpleCookie

    from camaudit.web import i18n

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookies)
    except CookieError:
        pass
    token = i18n.set_lang(jar["lang"].value if "lang" in jar else i18n.DEFAULT_LANG)
    mib = f"{limit / 1048576:g}"
    try:
        html = templating.render_string(
            "error.html", title=_("The file is too large"), user=None, csrf_token="", nav=[], crumbs=None,
            flash=None, request_path=path, **labels.GLOBALS,
            message=_("A form may send at most %(n)s MiB; nothing was saved. Go back and choose a smaller file.",
                      n=mib))
    finally:
        i18n._lang.reset(token)
    return HTMLResponse(html, status_code=413, headers=templating.SECURITY_HEADERS)
