"""Run a scan end to end: record it, assess the targets, checkpoint each host, finish it.

The command line, the demo, the benchmark and (later) the Celery workers all come through here.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import fields, replace
from typing import Any

from camaudit import __version__
from camaudit.engine.options import ScanOptions
from camaudit.engine.scanner import Progress, Scanner
from camaudit.scope import Scope, TargetSet, guarding, parse_targets
from camaudit.store import Store
from camaudit.store.db import LEASE_TTL, ScanBusy, StoreError, lease_owner


def options_from_dict(data: dict[str, Any]) -> ScanOptions:
    known = {f.name for f in fields(ScanOptions)}
    clean = {k: v for k, v in data.items() if k in known}
    for key in ("ports", "checks", "intrusive", "snmp_communities"):
        if clean.get(key) is not None:
            clean[key] = tuple(clean[key])
    return ScanOptions(**clean)


def knowledge():
    """The knowledge base and its version stamp."""
    from camaudit.knowledge import load_kb

    kb = load_kb()
    return kb, getattr(kb, "version", "")


async def run_scan(targets: list[str], options: ScanOptions, store: Store, *, scope: Scope | None = None,
                   progress: Progress | None = None, resume: str | None = None,
                   owner: str | None = None, ttl: float = LEASE_TTL, rate: float | None = None) -> str:
    """Scan ``targets`` (what the user wrote) and return the scan id.

    With ``resume`` the targets and options of that scan are reused and the hosts already done
    are skipped.  Raises TargetError / ScopeError before any packet is sent.

    The scan runs under its lease (``ttl`` seconds, renewed by progress and a keeper).  A caller
    that already holds it (a platform worker, store/lease.py) passes its ``owner``: the lease is
    then kept but not given back here, and the final status is left to the caller, which
    writes it when it releases the lease (only if it still holds it).

    ``rate``: a ceiling on the options' rate (the platform's share of an organisation's rate,
    workers/jobs.bind); a scan whose options say 0 (no limit) runs at the ceiling."""
    held = owner is not None
    owner = owner or lease_owner()
    if resume:
        record = store.get_scan(resume)
        store.claim_scan(record.id, owner, ttl)  # a second runner of the same scan is refused here
        targets = list(record.targets)
        options = options_from_dict(record.options)
    if rate is not None and rate > 0:
        options = replace(options, rate=min(options.rate or rate, rate))
    try:
        target_set: TargetSet = parse_targets(targets, resolve=options.resolve)
        scope = scope or Scope()  # the built-in refusals hold even when no scope is given
        scope.check(target_set)
        kb, kb_version = knowledge()
        scanner = Scanner(options, store=store, kb=kb, progress=progress)  # validates check names
    except BaseException:
        if resume and not held:
            store.release_scan(record.id, owner)
        raise
    if resume:
        scan_id = record.id
        skip = store.done_addresses(scan_id)
        store.set_status(scan_id, "running")
    else:
        scan_id = store.create_scan(targets=targets, options=options.to_dict(), operator=options.operator,
                                    tool_version=__version__, knowledge_version=kb_version,
                                    hosts_total=len(target_set), owner=owner, ttl=ttl)
        skip = set()
    keeper = asyncio.ensure_future(_keep_lease(store, scan_id, owner, ttl))
    try:
        with guarding(scope, target_set):  # every connection of the scan passes this gate
            await scanner.run(target_set, scan_id=scan_id, skip=skip)
    except BaseException as exc:  # Ctrl-C, cancellation, a crash: the done hosts are kept for --resume
        keeper.cancel()
        if isinstance(exc, ScanBusy) or held:  # someone else's now, or the caller's to say
            raise
        try:
            _record_status(store, scan_id, "interrupted")
        finally:
            store.release_scan(scan_id, owner)
        raise
    keeper.cancel()
    if not held:
        try:
            _record_status(store, scan_id, "finished")
        finally:
            store.release_scan(scan_id, owner)
    return scan_id


async def _keep_lease(store: Store, scan_id: str, owner: str, ttl: float) -> None:
    """Renew the scan's lease while it runs, even when no host finishes for a while (progress
    renews it too).  A lease lost to another runner is noticed by the next checkpoint, which
    fails and stops the scan."""
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            await asyncio.to_thread(store.renew_scan, scan_id, owner, ttl)
        except StoreError:
            return


def _record_status(store: Store, scan_id: str, status: str) -> None:
    """Write the scan's status with SIGINT/SIGTERM held back: a second Ctrl-C during the write
    must not leave the scan "running" (the signal is delivered right after)."""
    held = {signal.SIGINT, signal.SIGTERM}
    block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if block else None
    try:
        store.set_status(scan_id, status)
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def scan(targets: list[str], options: ScanOptions | None = None, store: Store | None = None, **kw) -> dict:
    """Synchronous convenience: scan and return the report document."""
    store = store or Store()
    sid = asyncio.run(run_scan(targets, options or ScanOptions(), store, **kw))
    return store.report_document(sid)


__all__ = ["run_scan", "scan", "options_from_dict"]
