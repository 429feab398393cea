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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from camaudit.store import lease as leases
from camaudit.store import schedules
from camaudit.store.db import NotFound, ScanBusy, lease_owner
from camaudit.store.lifecycle import apply_scan
from camaudit.store.models import LOCAL_SYSTEM_ID, Scan
from camaudit.store.platform import Platform
from camaudit.store.platform_models import CameraSystem, Organisation
from camaudit.store.scans import scan_rate
from camaudit.store.systems import DENIED

if TYPE_CHECKING:
    from camaudit.engine.scanner import Progress
    from camaudit.scope import Scope

log = logging.getLogger("camaudit.workers")


def worker_id() -> str:
    """The lease owner's name, as the command line's: host/pid/random (store.db.lease_owner), so
    a lease left by a killed process of this machine is taken over at once."""
    return lease_owner()


def _lease_time() -> dt.timedelta:
    return dt.timedelta(seconds=float(os.environ.get("CAMAUDIT_LEASE_SECONDS", "60")))


@dataclass(frozen=True)
class Binding:
    """What a platform scan runs under, read from the database when it starts (never from the
    scan's own record, nor from a command line): the scope is its camera system's authorised
    ranges (with the ranges never scanned), the rate its organisation's share of ``max_rate``."""

    scope: Scope
    rate: float
    system: str
    ranges: tuple[str, ...]


def is_platform_scan(scan: Any) -> bool:
    """A scan of a registered camera system (not the command line's "local" one)."""
    return scan.system_id is not None and scan.system_id != LOCAL_SYSTEM_ID


def bind(platform: Platform, scan_id: str) -> Binding:
    """The one binding of a platform scan's execution, for a worker (``execute_scan``) and for
    ``camaudit scan --resume`` alike.  ScopeError, before any packet, when the system has no
    ranges, or when a target recorded on the scan is no longer covered by them (the system's
    ranges were narrowed since the scan was requested); NotFound for an unknown scan."""
    from camaudit.scope import Scope, ScopeError, TargetError, parse_targets

    with platform.sessions() as s:
        scan = s.get(Scan, scan_id)
        if scan is None:
            raise NotFound(f"no scan with id {scan_id!r}")
        system = s.get(CameraSystem, scan.system_id)
        org = s.get(Organisation, scan.org_id)
        targets = list(scan.targets)
        name = system.name if system is not None else "?"
        ranges = tuple(system.ranges) if system is not None else ()
        rate = scan_rate(org) if org is not None else 0.0
    if not ranges:
        raise ScopeError(f"scan {scan_id[:8]}: system {name!r} has no authorised ranges; nothing may be scanned")
    scope = Scope.parse(ranges, DENIED)
    try:
        scope.check(parse_targets(targets, resolve=False))
    except (ScopeError, TargetError) as exc:
        raise ScopeError(f"scan {scan_id[:8]} cannot run: {exc}; system {name!r} is now authorised only for "
                         f"{', '.join(ranges)} (its ranges changed since the scan was requested): "
                         "request a new scan of the system") from None
    return Binding(scope=scope, rate=rate, system=name, ranges=ranges)


def execute_scan(platform: Platform, scan_id: str, *, worker: str | None = None,
                 lease: dt.timedelta | None = None, progress: Progress | None = None,
                 around: Callable[[Coroutine[Any, Any, None]], Coroutine[Any, Any, Any]] | None = None,
                 busy: list[str] | None = None, submit: Callable[[str], object] | None = None) -> str:
    """'finished' | 'failed' | 'interrupted' | 'skipped' (another worker holds it, or done).

    ``progress``: the engine's progress events; ``around``: wraps the scan's coroutine (the
    command line's signal handling); ``busy``: receives the reason of a 'skipped'; ``submit``:
    once the scan ends, its organisation's next waiting scans are handed to it (the slot this
    one held is free).  A failure is written on the scan (``error``)."""
    outcome = _execute(platform, scan_id, worker=worker, lease=lease, progress=progress, around=around, busy=busy)
    if outcome != "skipped" and submit is not None:
        try:
            submit_next(platform, scan_id, submit)
        except Exception:  # the next tick does it
            log.exception("scan %s: could not submit the organisation's next scans", scan_id)
    return outcome


def _execute(platform: Platform, scan_id: str, *, worker: str | None, lease: dt.timedelta | None,
             progress: Progress | None, around: Callable[[Coroutine[Any, Any, None]], Coroutine[Any, Any, Any]] | None,
             busy: list[str] | None) -> str:
    from camaudit.engine.api import run_scan

    worker = worker or worker_id()
    lease = lease or _lease_time()
    try:
        leases.claim_or_raise(platform, scan_id, worker, lease=lease)
    except ScanBusy as exc:
        if busy is not None:
            busy.append(str(exc))
        return "skipped"
    try:
        binding = bind(platform, scan_id)
    except Exception as exc:  # the system's ranges no longer cover the scan: refused, before any packet
        leases.release(platform, scan_id, worker, status="failed", error=str(exc))
        return "failed"

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
            await run_scan([], None, platform.store, scope=binding.scope, resume=scan_id,  # type: ignore[arg-type]
                           owner=worker, ttl=lease.total_seconds(), progress=progress, rate=binding.rate)
        finally:
            keeper.cancel()

    try:
        asyncio.run(around(run()) if around is not None else run())
    except (asyncio.CancelledError, KeyboardInterrupt):
        leases.release(platform, scan_id, worker, status="interrupted")
        return "interrupted"
    except ScanBusy:  # a checkpoint found the lease taken over: the scan is another worker's now
        log.warning("scan %s: lease lost, stopped", scan_id)
        return "interrupted"
    except Exception as exc:  # a bad option, the store failing: say so on the scan
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


def tick(platform: Platform, submit: Any, now: dt.datetime | None = None,
         resend_after: dt.timedelta | None = leases.RESEND) -> dict[str, Any]:
    """What beat (or the in-process loop) does each minute: queue due schedules, submit every
    scan a worker could claim now (queued, interrupted, abandoned by a dead worker once its lease
    expired; of each organisation as many as it has free slots, so a scan refused at the
    organisation's limit is submitted once a slot frees), and apply findings a dead worker left
    unapplied.  A scan handed to a worker is not handed again before ``resend_after`` (None: the
    in-process worker, whose own queue drops duplicates and is lost on a restart)."""
    new = enqueue_due(platform, now)
    waiting = leases.ready(platform, now=now, resend_after=resend_after)
    for sid in waiting:
        submit(sid)
    leases.mark_dispatched(platform, waiting, now)
    for sid in leases.unapplied(platform):
        apply_findings(platform, sid, actor="tick")
    from camaudit.store.conformity import judge_missing

    judge_missing(platform)
    return {"queued": new, "submitted": waiting}


def submit_next(platform: Platform, scan_id: str, submit: Callable[[str], object]) -> list[str]:
    """A scan ended and its organisation has a slot free: hand its next waiting scans to a
    worker now rather than at the next tick."""
    with platform.sessions() as s:
        scan = s.get(Scan, scan_id)
        org_id = scan.org_id if scan is not None else None
    if org_id is None:
        return []
    nxt = leases.ready(platform, org_id=org_id)
    for sid in nxt:
        submit(sid)
    leases.mark_dispatched(platform, nxt)
    return nxt
