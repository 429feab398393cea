"""The web application: ``create_app(settings)``.  Nothing touches the database at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from camaudit import __version__
from camaudit.store.access import InputError, NotFound, Refused
from camaudit.web.deps import LoginRequired, csrf_protect
from camaudit.web.settings import Settings

log = logging.getLogger("camaudit.web")
HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def _too_large(scope: Scope, limit: int) -> Response:
    """The 413 answer: JSON for the API, a page in the user's language for a form."""
    detail = f"the request is larger than {limit // 1024} KiB"
    if str(scope.get("path", "")).startswith("/api/"):
        return JSONResponse({"detail": detail}, status_code=413)
    from camaudit.web.pages.render import too_large_page

    cookies = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
    return too_large_page(str(scope.get("path", "")), cookies, limit)


class BodyLimit:
    """413 for any request body over ``limit`` bytes, declared or streamed; nothing is stored."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(scope, self.limit)(scope, receive, send)
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:  # streamed past the limit: answer now, the app sees a disconnect
                    refused = True
                    await _too_large(scope, self.limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return msg

        async def guarded_send(msg: Message) -> None:
            if not refused:
                await send(msg)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not refused:
                raise


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from camaudit.store.platform import Platform
        from camaudit.workers import dispatch

        app.state.platform = Platform(settings.db_url)
        worker = None
        if settings.inproc_worker and not dispatch.broker_url():
            from camaudit.workers.inproc import InProcessWorker

            worker = InProcessWorker(app.state.platform, interval=settings.tick_seconds)
            dispatch.set_local(worker.submit)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                dispatch.set_local(None)
                worker.close()
            app.state.platform.close()

    app = FastAPI(title="camaudit", version=__version__, lifespan=lifespan,
                  description="Camera systems, scans and findings of a province's agencies (Directive 23/CT-TTg).")
    app.state.settings = settings
    from camaudit.web.auth import oidc_client
    from camaudit.web.auth import router as auth_router

    app.state.oidc = oidc_client(settings)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="camaudit_session",
                       max_age=12 * 3600, same_site="lax", https_only=settings.secure_cookies)
    try:
        from camaudit.web.i18n import LocaleMiddleware

        app.add_middleware(LocaleMiddleware)
    except ImportError:
        pass
    app.add_middleware(BodyLimit, limit=settings.max_upload)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return JSONResponse({"detail": str(exc) or "not found"}, status_code=404)

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": "invalid input", "errors": errors}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from camaudit.web.api import router as api_router

    app.include_router(auth_router)
    app.include_router(api_router)
    try:
        from camaudit.web.pages import router as pages_router
    except ImportError:
        pages_router = None
    if pages_router is not None:
        app.include_router(pages_router, dependencies=[Depends(csrf_protect)])
    try:
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(packages=[("camaudit.web", "static")]), name="static")
    except (AssertionError, ModuleNotFoundError, RuntimeError):
        log.warning("no static files in camaudit.web")
    return app
