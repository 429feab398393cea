"""The scan engine: sweep, probe, identify, check, store — one host at a time per worker.

Bounded everywhere: a fixed pool of host workers pulls addresses from a lazy iterator (a /16
costs no memory up front), the sweep shares one global connection semaphore and an optional
global rate limit, each host gets ``host_concurrency`` connections at most, and every exchange
with a device runs under a deadline.  Each finished host is written to the store at once: that is
the checkpoint an interrupted scan resumes from.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from camaudit import __version__
from camaudit.checks.base import PHASES, REGISTRY, Check, CheckContext, HostGate, LoginBudget
from camaudit.discovery.sweep import Sweeper
from camaudit.engine import plan
from camaudit.engine.options import ScanOptions
from camaudit.model import HostResult, Observation, Severity
from camaudit.scope import TargetSet

log = logging.getLogger("camaudit.engine")

Progress = Callable[..., None]
STORE_BATCH = 64  # hosts checkpointed in one transaction, at most
STORE_BATCH_WAIT = 0.05  # seconds a finished host may wait for others to share its transaction


def _no_progress(event: str, **data: Any) -> None:
    pass


@dataclass
class ScanStats:
    hosts_total: int = 0
    hosts_swept: int = 0
    hosts_up: int = 0
    services_probed: int = 0
    checks_run: int = 0
    findings: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Severity})
    errors: int = 0


def load_checks(options: ScanOptions) -> list[Check]:
    """The checks this scan runs: all non-intrusive ones, or those named, plus intrusive ones
    turned on by name.  Unknown names are an error (a typo must not silently skip a check)."""
    import camaudit.checks  # noqa: F401  (registers every check)

    known = set(REGISTRY)
    for name in list(options.checks or ()) + list(options.intrusive):
        if name not in known:
            raise ValueError(f"unknown check {name!r}; known checks: {', '.join(sorted(known))}")
    selected = []
    for cid, check in REGISTRY.items():  # registration order: the order checks build on each other
        if options.checks is not None and cid not in options.checks:
            continue
        if check.meta.intrusive and cid not in options.intrusive:
            continue
        selected.append(check)
    return selected


class Scanner:
    def __init__(self, options: ScanOptions, *, store=None, kb=None, progress: Progress | None = None) -> None:
        from camaudit.identify import identify

        self.options = options
        self.store = store
        self.kb = kb
        self.progress = progress or _no_progress
        self.identify = identify
        self.checks = [] if options.discovery_only else load_checks(options)
        self.budget = LoginBudget(spacing=options.login_spacing)
        self.stats = ScanStats()
        self.sweeper = Sweeper(concurrency=options.concurrency, host_concurrency=max(8, len(options.ports)),
                               rate=options.rate, host_rate=options.host_rate, timeout=options.connect_timeout)

    # -- the whole scan ----------------------------------------------------------------

    async def run(self, targets: TargetSet, *, scan_id: str | None = None,
                  skip: set[str] | frozenset[str] = frozenset()) -> list[HostResult]:
        """Assess every target not in ``skip``; returns the hosts that were up."""
        self.stats.hosts_total = len(targets)
        self.progress("start", total=self.stats.hosts_total, already=len(skip))
        results: list[HostResult] = []
        it: Iterator[tuple[str, str | None]] = iter(targets)

        # bounded: when the store falls behind, the workers wait (finished hosts never pile up
        # in memory: a sweep of millions of addresses costs what a few batches cost)
        done: asyncio.Queue = asyncio.Queue(maxsize=STORE_BATCH * 8)

        async def worker() -> None:
            for address, hostname in it:  # a shared iterator: each address goes to one worker
                if address in skip:
                    continue
                host = await self.assess(address, hostname)
                if host is not None:
                    results.append(host)
                await done.put((host, address, hostname))
                self.progress("host_done", address=address, up=host is not None,
                              findings=len(host.findings) if host else 0)

        async def writer() -> None:
            """Checkpoint finished hosts in batches: one transaction per batch, not per host."""
            while True:
                batch = [await done.get()]
                if batch[0] is None:
                    return
                if done.qsize() < STORE_BATCH:
                    await asyncio.sleep(STORE_BATCH_WAIT)  # let a few more finish (no wait when behind)
                while not done.empty() and len(batch) < STORE_BATCH:
                    batch.append(done.get_nowait())
                stop = batch[-1] is None
                batch = [b for b in batch if b is not None]
                if self.store is not None and scan_id is not None and batch:
                    await asyncio.to_thread(self.store.record_hosts, scan_id, batch)
                if stop:
                    return

        n = max(1, min(self.options.host_parallelism, self.stats.hosts_total or 1))
        writing = asyncio.ensure_future(writer())
        workers = asyncio.gather(*(worker() for _ in range(n)))
        # a store that fails stops the scan: assessing hosts that cannot be saved helps nobody
        writing.add_done_callback(lambda t: workers.cancel() if not t.cancelled() and t.exception() else None)
        try:
            await workers
        finally:
            if not writing.done():  # a writer that failed reads no more: do not wait for room
                await done.put(None)
            await writing  # re-raises the store's error, if that is what stopped the workers
        self.progress("finish", stats=self.stats)
        return results

    # -- one host --------------------------------------------------------------------------

    async def assess(self, address: str, hostname: str | None = None) -> HostResult | None:
        o = self.options
        udp_task = asyncio.ensure_future(self._udp(address)) if o.udp else None
        try:
            open_ports = await self.sweeper.sweep(address, o.ports)
        except Exception as exc:  # a local resource problem (fd limit): report, go on
            log.warning("sweep of %s failed: %s", address, exc)
            open_ports = []
        udp_obs = await udp_task if udp_task else []
        self.stats.hosts_swept += 1
        self.progress("host_swept", address=address, open=len(open_ports))
        if not open_ports and not udp_obs:
            return None
        self.stats.hosts_up += 1
        host = HostResult(address=address, hostname=hostname, open_ports=open_ports,
                          udp_ports=sorted({ob.port for ob in udp_obs}), assess_all=o.all_hosts)
        host.observations.extend(udp_obs)
        if o.discovery_only:
            host.identity = self.identify(host.observations)
            return host

        slots = HostGate(o.host_concurrency, o.host_rate)
        await self._probe_tcp(host, slots)
        host.identity = self.identify(host.observations)
        self.progress("identified", address=address, identity=host.identity)

        ctx = CheckContext(timeout=o.timeout, kb=self.kb, budget=self.budget, options=o, host_slots=slots)
        for phase in PHASES:
            await self._run_phase(phase, host, ctx)
            if phase == "access" and host.credentials:
                await self._enrich(host)
        for ob in host.observations:
            if ob.error:
                host.errors.append(f"{ob.protocol}:{ob.port} {ob.error}")
        self.stats.errors += len(host.errors)
        return host

    async def _guard(self, coro, what: str, host: HostResult, extra: float = 2.0):
        """Await a device exchange with a hard deadline on top of the client's own.  ``coro``
        may be a zero-argument callable making the coroutine: then a task cancelled before it
        started leaves no coroutine "never awaited" behind."""
        if callable(coro):
            coro = coro()
        try:
            return await asyncio.wait_for(coro, self.options.timeout + extra)
        except asyncio.CancelledError:
            raise
        except (asyncio.TimeoutError, TimeoutError):
            host.errors.append(f"{what} stalled past the deadline")
        except Exception as exc:  # a client bug must not end the scan: record and go on
            log.exception("%s on %s", what, host.address)
            host.errors.append(f"{what} failed: {type(exc).__name__}: {exc}")
        return None

    async def _udp(self, address: str) -> list[Observation]:
        from camaudit.protocols import snmp, ssdp, wsd

        t = self.options.timeout
        scratch = HostResult(address=address)
        calls = [  # callables: a probe coroutine exists only once its task runs (Ctrl-C safe)
            self._guard(lambda: snmp.probe(address, communities=self.options.snmp_communities, timeout=t),
                        "snmp:161", scratch),
            self._guard(lambda: wsd.probe(address, timeout=min(t, 2.0)), "wsd:3702", scratch),
            self._guard(lambda: ssdp.probe(address, timeout=min(t, 2.0)), "ssdp:1900", scratch),
        ]
        out: list[Observation] = []
        for res in await asyncio.gather(*calls):
            out.extend(ob for ob in plan.as_list(res) if not ob.error)
        return out

    async def _probe_port(self, host: HostResult, port: int, protocol: str, slots: HostGate) -> list[Observation]:
        got: list[Observation] = []
        coros = plan.probes_for(protocol, host.address, port, self.options.timeout)
        try:
            for coro in coros:
                async with slots:
                    got.extend(plan.as_list(await self._guard(coro, f"{protocol}:{port}", host)))
        finally:
            _close_unstarted(coros)
        self.stats.services_probed += 1
        self.progress("service_probed", address=host.address, port=port, protocol=protocol)
        return got

    async def _probe_tcp(self, host: HostResult, slots: HostGate) -> None:
        async def one(port: int) -> list[Observation]:
            protocol = plan.primary_protocol(port)
            got = await self._probe_port(host, port, protocol, slots)
            if not plan.answered(got) and protocol in plan.HTTP_FALLBACK:
                fallback = await self._probe_port(host, port, "http", slots)
                if plan.answered(fallback):
                    return [ob for ob in got if not ob.error] + fallback
            return got

        for obs in await asyncio.gather(*(one(p) for p in host.open_ports)):
            host.observations.extend(obs)

        # ONVIF lives on a web port: where WS-Discovery pointed, else the web servers that answered.
        web = plan.http_ports(host.observations)[: plan.MAX_ONVIF_PORTS]

        async def onvif(port: int, tls: bool) -> list[Observation]:
            async with slots:
                return plan.as_list(await self._guard(plan.onvif_probe(host.address, port, tls, self.options.timeout),
                                                      f"onvif:{port}", host))

        for obs in await asyncio.gather(*(onvif(p, tls) for p, tls in web)):
            host.observations.extend(obs)

    async def _enrich(self, host: HostResult) -> None:
        """Read authenticated device facts with the credentials found, then identify again."""
        calls = []
        for cred in host.credentials:
            for coro in plan.enrich_calls(host.identity.vendor, cred, host.address, self.options.timeout):
                calls.append((cred, coro))
        try:
            for cred, coro in calls:
                facts = await self._guard(coro, f"enrich {cred.protocol}:{cred.port}", host)
                if facts:
                    host.observations.append(Observation(address=host.address, port=cred.port, protocol="device",
                                                         fields={k: str(v) for k, v in facts.items() if v}))
        finally:
            _close_unstarted([coro for _, coro in calls])
        if calls:
            host.identity = self.identify(host.observations)
            self.progress("identified", address=host.address, identity=host.identity)

    async def _run_phase(self, phase: str, host: HostResult, ctx: CheckContext) -> None:
        """The phase's checks, one after another in registration order: checks of one phase
        may build on each other (weak-credentials spends what default-credentials left of the
        budget), and one device is spared a burst of parallel logins.  Hosts run in parallel."""
        for check in self.checks:
            if check.meta.phase != phase or not check.applies(host):
                continue
            found = await self._guard(check.run(host, ctx), f"check {check.meta.id}", host,
                                      extra=self._check_deadline(check))
            host.checks_run.append(check.meta.id)
            self.stats.checks_run += 1
            self.progress("check_run", address=host.address, check=check.meta.id)
            for f in found or []:
                host.findings.append(f)
                self.stats.findings[f.severity.value] += 1
                self.progress("finding", address=host.address, finding=f)

    def _check_deadline(self, check: Check) -> float:
        # a check makes several exchanges: allow each login attempt and route its own deadline
        return self.options.timeout * max(4, check.meta.login_budget * 3) + 30.0


def _close_unstarted(coros) -> None:
    """Close the coroutines of a list that were never started (the host was cancelled midway):
    closed, they are not reported as 'never awaited'."""
    for c in coros:
        if inspect.iscoroutine(c) and inspect.getcoroutinestate(c) == inspect.CORO_CREATED:
            c.close()


def tool_version() -> str:
    return __version__
