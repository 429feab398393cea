"""login-error-oracle: does a failed login say WHICH part was wrong?  Two attempts on one login
surface: a user name that cannot exist, then the vendor's standard administrator account with
a random password.  Two different rejections (Dahua RPC2 268632070 "user not valid" against
268632071 "password not valid", Sofia Ret 204 against 203, a web page that words them apart)
let an attacker find valid user names first.  Runs after no-login-lockout (phase "final"),
spends at most one attempt per account through the scan's budget, never past the cap the
lockout check keeps per account, and stops at the first lockout sign."""

from __future__ import annotations

import re
import secrets

from camaudit.checks._support import Surface, login_surfaces, vendor_of
from camaudit.checks.base import ACCOUNT_LIMIT, Check, CheckContext, CheckMeta, register
from camaudit.knowledge.checkmeta import clauses_for
from camaudit.model import AuthOutcome, AuthResult, Finding, HostResult, Severity

PROBE_USER = "camaudit-oracle-probe"  # not the lockout probe's name: its budget stays whole
STANDARD_ADMIN = {"axis": "root"}  # every other vendor in the knowledge base names it "admin"
ACCOUNT_CAP = ACCOUNT_LIMIT  # attempts per real account per service, at most (all checks together)
_COUNTS = re.compile(r"\d+")


def _signature(r: AuthResult) -> tuple[int | None, str]:
    """What a rejection says, without the counters (tries left, unlock time) that change
    from one attempt to the next."""
    return r.status, _COUNTS.sub("#", r.detail).strip().lower()


def _rank(s: Surface) -> int:
    """Surfaces whose rejections carry a vendor code first (Sofia, vendor web APIs)."""
    return 0 if s.protocol == "xmeye" or s.label.endswith("web API") else 1


@register
class LoginErrorOracle(Check):
    meta = CheckMeta(id="login-error-oracle", severity=Severity.LOW,
                     clauses=clauses_for("login-error-oracle"), login_budget=1, phase="final")

    async def run(self, host: HostResult, ctx: CheckContext) -> list[Finding]:
        budget = ctx.budget
        surfaces = sorted((s for s in await login_surfaces(host, ctx)
                           if not budget.is_locked(host.address, s.port, s.protocol)), key=_rank)
        if not surfaces:
            return []
        s = surfaces[0]
        admin = STANDARD_ADMIN.get(vendor_of(host) or "", "admin")
        answers: list[AuthResult] = []
        for user, limit in ((PROBE_USER, self.meta.login_budget), (admin, ACCOUNT_CAP)):
            if not await budget.take(host.address, s.port, s.protocol, user, limit,
                                     probe=user == PROBE_USER):
                return []  # the budget is spent or a lockout was seen: inconclusive
            async with ctx.slot():
                result = await s.attempt(user, secrets.token_urlsafe(12))
            if result.outcome == AuthOutcome.LOCKED:
                budget.mark_locked(host.address, s.port, s.protocol)
                return []
            if result.outcome != AuthOutcome.FAILURE:
                return []  # an error, or the account let us in: nothing to compare
            answers.append(result)
        unknown, known = answers
        if _signature(unknown) == _signature(known):
            return []
        return [self.finding(host, port=s.port, protocol=s.protocol, evidence={
            "surface": s.label, "path": s.path,
            "unknown_user": {"username": PROBE_USER, "code": unknown.status,
                             "answer": unknown.detail[:120]},
            "existing_user_wrong_password": {"username": admin, "code": known.status,
                                             "answer": known.detail[:120]},
            "attempts": 2})]
