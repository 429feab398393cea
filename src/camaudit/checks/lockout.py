"""no-login-lockout: a few failed logins with a user name that does not exist, on one login
surface; no lockout sign within the budget is a finding.  Runs last (phase "final"): it may
leave failed-login entries in the device's log, and it never uses a real account's name."""

from __future__ import annotations

import asyncio
import secrets

from camaudit.checks._support import login_surfaces
from camaudit.checks.base import Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import AuthOutcome, Finding, HostResult, Severity

PROBE_USER = "camaudit-lockout-probe"
WINDOW = 30.0  # seconds: all attempts are sent within this window


@register
class NoLoginLockout(Check):
    meta = CheckMeta(id="no-login-lockout", severity=Severity.MEDIUM,
                     clauses=clauses_for("no-login-lockout"), login_budget=6, phase="final")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        budget = ctx.budget
        surfaces = [s for s in await login_surfaces(host, ctx)
                    if not budget.is_locked(host.address, s.port, s.protocol)]
        if not surfaces:
            return []
        surface = surfaces[0]  # vendor HTTP API first, see login_surfaces
        loop = asyncio.get_running_loop()
        start = loop.time()
        failures = 0
        outcomes: dict[str, int] = {}
        try:
            async with asyncio.timeout(WINDOW):
                while await budget.take(host.address, surface.port, surface.protocol,
                                        PROBE_USER, self.meta.login_budget, probe=True):
                    async with ctx.slot():
                        result = await surface.attempt(PROBE_USER, secrets.token_urlsafe(12))
                    outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
                    if result.outcome == AuthOutcome.LOCKED:
                        budget.mark_locked(host.address, surface.port, surface.protocol)
                        return []
                    if result.outcome != AuthOutcome.FAILURE:
                        return []  # an error or an unexpected answer: inconclusive
                    failures += 1
        except TimeoutError:
            return []  # budget not spent within the window: inconclusive
        if failures < self.meta.login_budget:
            return []
        return [self.finding(host, port=surface.port, protocol=surface.protocol, evidence={
            "surface": surface.label, "path": surface.path, "username": PROBE_USER,
            "attempts": failures, "window_seconds": round(loop.time() - start, 1),
            "outcomes": outcomes})]
