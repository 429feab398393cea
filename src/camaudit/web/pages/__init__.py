"""Server-rendered pages (HTML).  Thin: every route takes a ``Scoped`` handle from the backend's
``scoped_for(permission)`` dependency and calls the scoped services in ``camaudit.store``; no page
queries the database itself.  An object outside the user's scope is a 404 (raised by the
services), never a 403.  ``router`` is imported on first use, so the labels and templates load
without the web stack."""

from __future__ import annotations

from typing import Any

__all__ = ["router"]


def __getattr__(name: str) -> Any:
    if name == "router":
        from camaudit.web.pages.routes import router

        return router
    raise AttributeError(name)
