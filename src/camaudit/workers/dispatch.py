"""Hand a queued scan to a worker: Celery when CAMAUDIT_BROKER is set, else the in-process
worker.  The web calls ``submit`` after the scan row is committed; it never imports the engine."""

from __future__ import annotations

import os
from collections.abc import Callable

_local: Callable[[str], None] | None = None


def set_local(fn: Callable[[str], None] | None) -> None:
    """The in-process worker registers itself here (web/app.py lifespan)."""
    global _local
    _local = fn


def broker_url() -> str | None:
    return os.environ.get("CAMAUDIT_BROKER") or None


def submit(scan_id: str) -> None:
    if broker_url():
        from camaudit.workers.celery_app import app

        app.send_task("camaudit.scan", args=[scan_id])
    elif _local is not None:
        _local(scan_id)
    # else: nobody is listening now; the next tick (beat or the in-process loop) picks it up
