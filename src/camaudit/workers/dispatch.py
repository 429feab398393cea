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


def submit(scan_id: str) -> bool:
    """True when the scan was handed to a worker (the broker or the in-process one); False when
    nobody listens now (the next tick, of beat or of the in-process loop, picks it up)."""
    if broker_url():
        from camaudit.workers.celery_app import app

        app.send_task("camaudit.scan", args=[scan_id])
        return True
    if _local is not None:
        _local(scan_id)
        return True
    return False


def hand_over(platform: object, scan_id: str) -> bool:
    """``submit`` a scan the web just queued, and remember it was handed over (so the tick does
    not send it again while its message waits for a free worker)."""
    sent = submit(scan_id)
    if sent:
        from camaudit.store.lease import mark_dispatched

        mark_dispatched(platform, [scan_id])  # type: ignore[arg-type]
    return sent
