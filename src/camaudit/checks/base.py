"""What every check is, and what it gets to work with.

A check declares its metadata (id, severity, the requirement clauses it bears on, whether it is
intrusive, its login-attempt budget and its phase) and implements ``run``.  Titles and
remediation texts (vi, en) live in ``knowledge/data/checks.yaml`` keyed by the check id, not in
code.  No check changes a device's state; one that would is ``intrusive`` and runs only when the
user names it.

Phases run in this order on each host:
  access   credential and anonymous-access checks (they fill ``host.credentials``)
  (enrich) the engine reads authenticated device facts with any credential found, re-identifies
  posture  everything that judges what we now know (cleartext, firmware, SNMP, ONVIF...)
  final    checks that may leave a trace on the device (lockout measurement): last
"""

from __future__ import annotations

import abc
import asyncio
import collections
import contextlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from camaudit.discovery.sweep import rate_limiter

from camaudit.model import DeviceKind, Finding, HostResult, Severity

PHASES = ("access", "posture", "final")

# Which hosts the checks assess (ScanOptions / HostResult.policy):
#   default  every host that answered on a camera port or protocol: video devices and hosts not
#            identified get every check; a host positively identified as another kind of device
#            (router, printer, NAS) gets only the safe checks
#   all      every check on every host (--all-hosts)
#   video    only hosts identified as camera / NVR / DVR (--video-only: the narrow behaviour)
POLICIES = ("default", "all", "video")


def policy_allows(policy: str, kind: DeviceKind, safe: bool) -> bool:
    """Whether a check (``safe`` or not) runs on a host of ``kind`` under ``policy``."""
    if policy not in POLICIES:
        raise ValueError(f"unknown assessment policy {policy!r}; use one of: {', '.join(POLICIES)}")
    if policy == "all" or kind.is_video:
        return True
    if policy == "video":
        return False
    return kind != DeviceKind.OTHER or safe


@dataclass(frozen=True)
class CheckMeta:
    id: str
    severity: Severity
    clauses: tuple[str, ...] = ()
    intrusive: bool = False
    login_budget: int = 0  # login attempts per account per service, at most
    phase: str = "posture"
    # harmless on any device (sends nothing that logs in or leaves a trace): runs on every host
    # that answered, even one identified as a router, printer or NAS; see ``Check.applies``
    safe: bool = False

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"check {self.id}: unknown phase {self.phase!r}")


# Login attempts per account and service, all checks together, at most: below the 5 failed
# logins after which camera firmware commonly locks an account (Dahua: 5 by default; Hikvision:
# 5 for operators, 7 for admin; Axis and Uniview lock at 5 or more).  The lockout measurement
# alone goes past it, with PROBE accounts (names no device has), so that no real account is
# ever locked by a scan.
ACCOUNT_LIMIT = 4


class LoginBudget:
    """Counts login attempts per (address, port, protocol, username) and refuses past a limit.

    Every real account gets at most ``ACCOUNT_LIMIT`` attempts per service whatever limit a
    check asks for; only ``probe=True`` attempts (user names that cannot exist, made up by the
    lockout measurement) may go up to their own limit.  Once a lockout sign was seen on
    (address, port, protocol) every further attempt there is refused.  ``attempts`` is public
    so tests can count what was spent."""

    def __init__(self, spacing: float = 0.0) -> None:
        self.attempts: collections.Counter[tuple[str, int, str, str]] = collections.Counter()
        self.locked: set[tuple[str, int, str]] = set()
        self.accounts: set[str] = set()  # user names tried as real accounts (not probes)
        self.spacing = spacing  # seconds to wait between two attempts on one service
        self._last: dict[tuple[str, int, str], float] = {}
        self._locks: dict[tuple[str, int, str], asyncio.Lock] = {}

    def total(self, address: str | None = None) -> int:
        return sum(n for k, n in self.attempts.items() if address is None or k[0] == address)

    def is_locked(self, address: str, port: int, protocol: str) -> bool:
        return (address, port, protocol) in self.locked

    def mark_locked(self, address: str, port: int, protocol: str) -> None:
        self.locked.add((address, port, protocol))

    async def take(self, address: str, port: int, protocol: str, username: str, limit: int,
                   *, probe: bool = False) -> bool:
        """Reserve one attempt; False when over ``limit`` (over ``ACCOUNT_LIMIT`` for a real
        account) or after a lockout sign."""
        if not probe:
            limit = min(limit, ACCOUNT_LIMIT)
            self.accounts.add(username)
        svc = (address, port, protocol)
        if svc in self.locked:
            return False
        key = (address, port, protocol, username)
        lock = self._locks.setdefault(svc, asyncio.Lock())
        async with lock:
            if self.attempts[key] >= limit or svc in self.locked:
                return False
            if self.spacing:
                loop = asyncio.get_running_loop()
                wait = self._last.get(svc, 0.0) + self.spacing - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last[svc] = loop.time()
            self.attempts[key] += 1
            return True


@dataclass
class CheckContext:
    timeout: float = 5.0
    kb: Any = None  # camaudit.knowledge.KnowledgeBase
    budget: LoginBudget = field(default_factory=LoginBudget)
    options: Any = None  # camaudit.engine.options.ScanOptions
    host_slots: HostGate | None = None  # connections to this host: how many at once, how fast
    cache: dict[str, Any] = field(default_factory=dict)  # what one check learnt for the next (RTSP routes)

    def slot(self) -> HostGate | contextlib.nullcontext:
        """``async with ctx.slot():`` around each connection to the host."""
        return self.host_slots if self.host_slots is not None else contextlib.nullcontext()


class HostGate:
    """Per-host limits: at most ``concurrency`` connections at once and, when ``rate`` is set,
    at most ``rate`` new connections per second.  ``async with gate:`` around a connection."""

    def __init__(self, concurrency: int, rate: float = 0.0) -> None:
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._limiter = rate_limiter(rate)

    async def __aenter__(self) -> None:
        await self._sem.acquire()
        if self._limiter is not None:
            try:
                await self._limiter.acquire()
            except BaseException:
                self._sem.release()
                raise

    async def __aexit__(self, *exc) -> None:
        self._sem.release()


class Check(abc.ABC):
    meta: ClassVar[CheckMeta]

    def applies(self, host: HostResult) -> bool:
        """Whether the check has anything to look at on this host.  Overrides should call
        ``super().applies(host)`` and then look for the services they need."""
        return policy_allows(host.policy, host.identity.kind, self.meta.safe)

    @abc.abstractmethod
    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        ...

    def finding(self, host: HostResult, *, port: int | None = None, protocol: str | None = None,
                evidence: dict[str, Any] | None = None, cves: list[str] | None = None,
                severity: Severity | None = None) -> Finding:
        return Finding(
            check_id=self.meta.id,
            address=host.address,
            severity=severity or self.meta.severity,
            port=port,
            protocol=protocol,
            evidence=evidence or {},
            clauses=list(self.meta.clauses),
            cves=cves or [],
        )


REGISTRY: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    if cls.meta.id in REGISTRY:
        raise ValueError(f"duplicate check id {cls.meta.id}")
    REGISTRY[cls.meta.id] = cls()
    return cls
