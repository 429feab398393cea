"""RTSP route discovery, for servers of any vendor (known, unknown or unrecognised).

A camera serves its stream on a route only its maker documents; a scanner that only knows the
routes of the vendors it recognised misses every other stream.  As Cameradar does, the route is
looked for in a dictionary ordered by prevalence (``rtsp_routes.yaml``: the vendor's routes
first when the vendor is known), within a bounded number of DESCRIBEs per port.  First, one
DESCRIBE of a route no device has tells how the server answers an unknown route:

  any-path     it serves a stream whatever the path (cheap DVRs and some encoders)
  not-found    it says 404 (or another refusal) for a route it does not have: the dictionary
               is walked until a route is served (open stream) or asks for a credential
  auth-first   it asks for a credential before saying whether the route exists (401 on any
               route): the route can only be found with a credential, so the credential checks
               try theirs on the dictionary's first route (an answer other than 401/403 after
               the credential means the credential is right) and the route is then looked up
               with it
  unclear      it said nothing usable (timeouts, resets): the dictionary is walked as for
               not-found

DESCRIBEs without a credential are not login attempts; those with one go through the login
budget (``_support.spend``) except the lookups made with a credential already proven right.
The result is kept per host and port: every check reads the same discovery.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from camaudit.checks.base import CheckContext
from camaudit.model import AuthOutcome, AuthResult, Credential, HostResult, redact

MAX_DESCRIBES = 20  # DESCRIBEs per RTSP port for the discovery, at most (the probe included)
MAX_AUTH_LOOKUPS = 12  # DESCRIBEs with a proven credential to find the route, at most
STOP_AFTER_ERRORS = 3  # consecutive answers that taught nothing: the server is not talking
_PROBE_PREFIX = "/camaudit-no-such-route-"


@dataclass
class Discovery:
    port: int
    behaviour: str = "unclear"  # any-path | not-found | auth-first | unclear
    route: str | None = None  # the route found (served, or asking for a credential)
    open: bool = False  # served without any credential
    sdp: str = ""
    describes: int = 0  # DESCRIBEs sent by the discovery
    statuses: dict[str, int] = field(default_factory=dict)  # status -> count, for the evidence

    @property
    def needs_credential(self) -> bool:
        return not self.open and (self.route is not None or self.behaviour == "auth-first")

    def evidence(self) -> dict[str, Any]:
        return {"server_behaviour": self.behaviour, "describes_sent": self.describes,
                "statuses_seen": dict(sorted(self.statuses.items()))}


def _cache(ctx: CheckContext) -> dict[tuple[str, int], Discovery]:
    return ctx.cache.setdefault("rtsp-discovery", {})


def _is_stream(result: AuthResult, sdp: str) -> bool:
    return result.outcome in (AuthOutcome.SUCCESS, AuthOutcome.NO_AUTH) and "m=video" in sdp


def _asks(result: AuthResult) -> bool:
    return result.status in (401, 403) or result.outcome == AuthOutcome.FAILURE


def candidate_routes(host: HostResult, ctx: CheckContext, limit: int) -> list[str]:
    from camaudit.checks._support import knowledge, vendor_of

    return knowledge(ctx).routes.for_vendor(vendor_of(host), limit)


async def discover(host: HostResult, port: int, ctx: CheckContext) -> Discovery:
    """How the RTSP server on ``port`` answers routes, and the route of its stream."""
    key = (host.address, port)
    found = _cache(ctx).get(key)
    if found is not None:
        return found
    from camaudit.checks._support import proto

    rtsp = proto("rtsp")
    d = Discovery(port)

    async def describe(route: str) -> tuple[AuthResult, str]:
        async with ctx.slot():
            result, sdp = await rtsp.describe(host.address, port, route, timeout=ctx.timeout)
        d.describes += 1
        label = str(result.status) if result.status is not None else result.detail.split(":")[0]
        d.statuses[label] = d.statuses.get(label, 0) + 1
        return result, sdp or ""

    probe_route = _PROBE_PREFIX + secrets.token_hex(4)
    result, sdp = await describe(probe_route)
    if _is_stream(result, sdp):
        d.behaviour, d.route, d.open, d.sdp = "any-path", probe_route, True, sdp
    elif _asks(result):
        d.behaviour = "auth-first"
    else:
        d.behaviour = "not-found" if result.status is not None else "unclear"
        errors = 0 if result.status is not None else 1
        for route in candidate_routes(host, ctx, MAX_DESCRIBES - 1):
            result, sdp = await describe(route)
            if _is_stream(result, sdp):
                d.route, d.open, d.sdp = route, True, sdp
                break
            if _asks(result):
                d.route = route
                break
            errors = errors + 1 if result.status is None else 0
            if errors >= STOP_AFTER_ERRORS:
                break
    _cache(ctx)[key] = d
    return d


def route_attempt(address: str, port: int, route: str, timeout: float, d: Discovery, *,
                  auth_first: bool):
    """One login attempt: a DESCRIBE of ``route`` with the credential.  A described stream is a
    success (its SDP is kept for the report: no second request is needed).  On a server that
    asks for a credential before it says whether the route exists (``auth_first``), any answer
    after the credential other than 401/403 also means the credential was accepted."""
    from camaudit.checks._support import proto

    async def attempt(username: str, password: str) -> AuthResult:
        result, sdp = await proto("rtsp").describe(address, port, route, username=username,
                                                   password=password, timeout=timeout)
        if _is_stream(result, sdp or ""):
            d.route, d.sdp = route, sdp or ""
            return AuthResult(AuthOutcome.SUCCESS, "stream described", result.status)
        if result.outcome in (AuthOutcome.FAILURE, AuthOutcome.LOCKED, AuthOutcome.SUCCESS):
            return result
        if auth_first and result.status is not None and result.status not in (401, 403):
            return AuthResult(AuthOutcome.SUCCESS,
                              f"credential accepted (status {result.status} for this route)",
                              result.status)
        if result.status in (401, 403, 404):
            return AuthResult(AuthOutcome.FAILURE, result.detail, result.status)
        return result
    return attempt


async def stream_with(host: HostResult, cred: Credential, ctx: CheckContext) -> dict[str, Any]:
    """With a credential proven right on an RTSP port: the stream's route and what it offers.
    Looks the route up (at most ``MAX_AUTH_LOOKUPS`` DESCRIBEs, none of them a failed login)
    when the credential was proven on a route the server does not serve."""
    from camaudit.checks._support import proto

    rtsp = proto("rtsp")
    d = _cache(ctx).get((host.address, cred.port))
    if d is not None and d.sdp and d.route == cred.path:  # the login attempt described it
        return {"route": d.route, "sdp": d.sdp, "describes_with_credential": 0}
    # the login attempt on cred.path did not describe a stream (else it was kept above)
    routes = [r for r in candidate_routes(host, ctx, MAX_AUTH_LOOKUPS + 1) if r != cred.path]
    sent = 0
    for route in routes[:MAX_AUTH_LOOKUPS]:
        if "{user}" in route:
            continue
        async with ctx.slot():
            result, sdp = await rtsp.describe(host.address, cred.port, route, username=cred.username,
                                              password=cred.password, timeout=ctx.timeout)
        sent += 1
        if _is_stream(result, sdp or ""):
            if d is not None:
                d.route, d.sdp = route, sdp or ""
            return {"route": route, "sdp": sdp or "", "describes_with_credential": sent}
        if result.outcome in (AuthOutcome.FAILURE, AuthOutcome.LOCKED):
            break  # the credential stopped working, or a lockout sign: stop here
    return {"route": None, "sdp": "", "describes_with_credential": sent}


def stream_url(address: str, port: int, route: str, username: str | None = None,
               password: str | None = None) -> str:
    """rtsp://[user:redacted@]address:port/route: a URL a person can open, never the secret."""
    host = f"[{address}]" if ":" in address else address
    who = f"{username}:{redact(password or '')}@" if username is not None else ""
    return f"rtsp://{who}{host}:{port}{route}"


def stream_evidence(sdp: str) -> dict[str, Any]:
    from camaudit.protocols import sdp as sdp_mod

    media = sdp_mod.summary(sdp)
    return {"sdp_media": media, "offers": sdp_mod.describe_text(media)}
