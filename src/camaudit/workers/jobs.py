"""The only task bodies.  Celery tasks and the in-process worker both call these.

``execute_scan``: claim the scan with a lease (one conditional UPDATE), run the engine with
``resume`` (hosts already recorded are skipped), renew the lease while it runs, then fold the
findings into their lifecycle and release the lease.  Safe to call twice, concurrently, or
after a worker died: a scan held by a live lease is left alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from typing import Any

from camaudit.store import lease as leases
from camaudit.store.db import ScanBusy, lease_owner
from camaudit.store import schedules
from camaudit.store.lifecycle import apply_scan
from camaudit.store.platform import Platform

log = logging.getLogger("camaudit.workers")


def worker_id() -> str:
    """The lease owner's name, as the command line's: host/pid/random (store.db.lease_owner), so
    a lease left by a killed process of this machine is taken over at once."""
    return lease_owner()


def _lease_time() -> dt.timedelta:
    return dt.timedelta(seconds=float(os.environ.get("CAMAUDIT_LEASE_SECONDS", "60")))


def execute_scan(platform: Platform, scan_id: str, *, worker: str | None = None,
                 lease: dt.timedelta | None = None) -> str:
    """'finished' | 'failed' | 'interrupted' | 'skipped' (another worker holds it, or done)."""
    from camaudit.engine.api import run_scan
    from camaudit.scope import Scope
    from camaudit.store.platform_models import CameraSystem
    from camaudit.store.systems import DENIED

    worker = worker or worker_id()
    lease = lease or _lease_time()
    if not leases.claim(platform, scan_id, worker, lease=lease):
        return "skipped"
    with platform.sessions() as s:
        from camaudit.store.models import Scan

        scan = s.get(Scan, scan_id)
        system = s.get(CameraSystem, scan.system_id) if scan else None
        ranges = list(system.ranges) if system else []
    if not ranges:
        leases.release(platform, scan_id, worker, status="failed", error="the system has no authorised ranges")
        return "failed"
    scope = Scope.parse(ranges, DENIED)

    async def run() -> None:
        main = asyncio.current_task()
        assert main is not None

        async def keep_lease() -> None:
            while True:
                await asyncio.sleep(lease.total_seconds() / 3)
                if not await asyncio.to_thread(leases.renew, platform, scan_id, worker, lease=lease):
                    log.warning("scan %s: lease lost, stopping", scan_id)
                    main.cancel()
                    return

        keeper = asyncio.create_task(keep_lease())
        try:
            await run_scan([], None, platform.store, scope=scope, resume=scan_id,  # type: ignore[arg-type]
                           owner=worker, ttl=lease.total_seconds())
        finally:
            keeper.cancel()

    try:
        asyncio.run(run())
    except (asyncio.CancelledError, KeyboardInterrupt):
        leases.release(platform, scan_id, worker, status="interrupted")
        return "interrupted"
    except ScanBusy:  # a checkpoint found the lease taken over: the scan is another worker's now
        log.warning("scan %s: lease lost, stopped", scan_id)
        return "interrupted"
    except Exception as exc:  # a scope change, a bad option, the store failing: say so on the scan
        log.exception("scan %s failed", scan_id)
        leases.release(platform, scan_id, worker, status="failed", error=f"{type(exc).__name__}: {exc}")
        return "failed"
    if not leases.renew(platform, scan_id, worker, lease=lease):  # lost after the last host: not ours to finish
        return "interrupted"
    apply_findings(platform, scan_id, actor=worker)
    leases.release(platform, scan_id, worker, status="finished")
    return "finished"


def apply_findings(platform: Platform, scan_id: str, *, actor: str) -> dict[str, int]:
    from camaudit.store.conformity import judge_scan

    with platform.system(actor) as db, db.action("finding.apply_scan"):
        counts = apply_scan(db.session, scan_id)
        judge_scan(db.session, platform.store, scan_id)  # the system's standing, on this scan
        return counts


def enqueue_due(platform: Platform, now: dt.datetime | None = None) -> list[str]:
    return schedules.enqueue_due(platform, now)


def tick(platform: Platform, submit: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """What beat (or the in-process loop) does each minute: queue due schedules, submit every
    scan waiting for a worker (queued, or abandoned by a dead worker once its lease expired),
    and apply findings a dead worker left unapplied."""
    new = enqueue_due(platform, now)
    waiting = leases.claimable(platform, now=now)
    for sid in waiting:
        submit(sid)
    for sid in leases.unapplied(platform):
        apply_findings(platform, sid, actor="tick")
    from camaudit.store.conformity import judge_missing

    judge_missing(platform)
    return {"queued": new, "submitted": waiting}
