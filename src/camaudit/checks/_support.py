"""Helpers shared by the checks: knowledge access, protocol clients, login surfaces and the
budgeted attempt loop."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from camaudit.checks.base import CheckContext
from camaudit.knowledge import KnowledgeBase, load_kb, vendor_key
from camaudit.knowledge.credentials import fill_route
from camaudit.model import AuthOutcome, AuthResult, Credential, HostResult

MAX_ERRORS = 2  # consecutive attempts that taught us nothing before giving up on a service

# vendor -> (HTTP login function in protocols.http, the API path prefix that shows it is there)
VENDOR_HTTP_LOGIN = {
    "hikvision": ("hikvision_login", "/ISAPI"),
    "dahua": ("dahua_login", "/RPC2"),
    "axis": ("axis_login", "/axis-cgi"),
}


def proto(name: str) -> ModuleType:
    """A protocol client module, imported when a check first needs it."""
    return importlib.import_module(f"camaudit.protocols.{name}")


@functools.cache
def _packaged_kb() -> KnowledgeBase:
    return load_kb()


def knowledge(ctx: CheckContext) -> KnowledgeBase:
    return ctx.kb if ctx.kb is not None else _packaged_kb()


def vendor_of(host: HostResult) -> str | None:
    """The knowledge key of the firmware the host runs: a brand that rebadges another maker's
    devices (Amcrest, Lorex, IMOU -> Dahua; LTS, Annke -> Hikvision) runs that maker's firmware,
    so its web APIs, RTSP routes, defaults and vulnerable ranges are the maker's."""
    return firmware_family(host.identity.vendor)


def firmware_family(vendor: str | None) -> str | None:
    from camaudit.identify import oem_of

    return vendor_key(oem_of(vendor) or vendor)


def has_credential(host: HostResult, protocol: str, port: int) -> bool:
    return any(c.protocol == protocol and c.port == port for c in host.credentials)


@dataclass
class Surface:
    """One place to log in: protocol and port as the budget counts them, a label for reports,
    the resource (path or route) and the function making one attempt."""

    protocol: str
    port: int
    label: str
    path: str
    attempt: Callable[[str, str], Awaitable[AuthResult]]


def _http_surfaces(host: HostResult, vendor: str | None, timeout: float) -> list[Surface]:
    http = proto("http")
    out = []
    for protocol in ("http", "https"):
        tls = protocol == "https"
        for port in host.ports_for(protocol):
            obs = [o for o in host.observations
                   if o.protocol == protocol and o.port == port and not o.error]
            login = VENDOR_HTTP_LOGIN.get(vendor or "")
            if login and any((o.get("http.path") or "").startswith(login[1])
                             and o.get("http.status") not in (None, "404") for o in obs):
                fn = getattr(http, login[0])
                out.append(Surface(protocol, port, f"{vendor} web API", login[1],
                                   _bind(fn, host.address, port, tls=tls, timeout=timeout)))
                continue
            asked = next((o.get("http.path") for o in obs if o.get("http.status") == "401"
                          and o.get("http.auth_scheme") in ("basic", "digest")), None)
            if asked:
                out.append(Surface(protocol, port, "HTTP authentication", asked,
                                   _bind(http.try_login, host.address, port, path=asked,
                                         tls=tls, timeout=timeout)))
    return out


def _bind(fn: Callable[..., Awaitable[AuthResult]], address: str, port: int,
          **kw: object) -> Callable[[str, str], Awaitable[AuthResult]]:
    async def attempt(username: str, password: str) -> AuthResult:
        return await fn(address, port, username, password, **kw)
    return attempt


def _url_route_login(address: str, port: int, route: str,
                     timeout: float) -> Callable[[str, str], Awaitable[AuthResult]]:
    """One login attempt = one DESCRIBE of the route with the credential written into it:
    an SDP with a video stream is a success, a refusal (401/403/404) a failure."""
    async def attempt(username: str, password: str) -> AuthResult:
        result, sdp = await proto("rtsp").describe(address, port, fill_route(route, username, password),
                                                   timeout=timeout)
        if result.outcome in (AuthOutcome.SUCCESS, AuthOutcome.NO_AUTH):
            if "m=video" in (sdp or ""):
                return AuthResult(AuthOutcome.SUCCESS, "stream described", result.status)
            return AuthResult(AuthOutcome.FAILURE, "no video stream in the answer", result.status)
        if result.outcome == AuthOutcome.ERROR and result.status in (401, 403, 404):
            return AuthResult(AuthOutcome.FAILURE, result.detail, result.status)
        return result
    return attempt


async def rtsp_surface(host: HostResult, port: int, ctx: CheckContext) -> Surface | None:
    """The RTSP login surface of ``port`` as route discovery found it (``checks._rtsp``): the
    route that asked for a credential, or on a server that asks before saying whether a route
    exists, the dictionary's first route.  None when the stream is served without a credential
    (rtsp-anonymous reports it) or no route asked for one."""
    from camaudit.checks import _rtsp

    d = await _rtsp.discover(host, port, ctx)
    t = ctx.timeout
    if d.open:
        return None
    if d.behaviour == "auth-first":
        route = d.route or (_rtsp.candidate_routes(host, ctx, 1) or ["/"])[0]
        return Surface("rtsp", port, "RTSP (credential asked before the route)", route,
                       _rtsp.route_attempt(host.address, port, route, t, d, auth_first=True))
    if d.route is not None:
        return Surface("rtsp", port, "RTSP", d.route,
                       _rtsp.route_attempt(host.address, port, d.route, t, d, auth_first=False))
    return None


async def login_surfaces(host: HostResult, ctx: CheckContext) -> list[Surface]:
    """Every login surface the host showed, vendor HTTP API first."""
    t = ctx.timeout
    vendor = vendor_of(host)
    out = _http_surfaces(host, vendor, t)
    url_routes = knowledge(ctx).routes.url_credential_routes(vendor)
    for port in host.ports_for("rtsp"):
        if url_routes:  # the firmware reads the credential from the URL (Xiongmai)
            out.append(Surface("rtsp", port, "RTSP (credential in the URL)", url_routes[0],
                               _url_route_login(host.address, port, url_routes[0], t)))
            continue
        surface = await rtsp_surface(host, port, ctx)
        if surface is not None:
            out.append(surface)
    https_ports = set(host.ports_for("https"))
    for o in host.observations_for("onvif"):
        if not o.error and o.get("onvif.auth_required") == "true":
            out.append(Surface("onvif", o.port, "ONVIF", "/onvif/device_service",
                               _bind(proto("onvif").try_login, host.address, o.port,
                                     tls=o.port in https_ports, timeout=t)))
    for name in ("telnet", "ftp", "ssh"):
        for port in host.ports_for(name):
            out.append(Surface(name, port, name.upper() if name != "telnet" else "Telnet", "",
                               _bind(proto(name).try_login, host.address, port, timeout=t)))
    for port in host.ports_for("xmeye"):
        out.append(Surface("xmeye", port, "XMeye (Sofia)", "",
                           _bind(proto("vendorports").xmeye_login, host.address, port, timeout=t)))
    return _dedupe(out)


def _dedupe(surfaces: list[Surface]) -> list[Surface]:
    seen: set[tuple[str, int]] = set()
    out = []
    for s in surfaces:
        if (s.protocol, s.port) not in seen:
            seen.add((s.protocol, s.port))
            out.append(s)
    return out


async def spend(host: HostResult, ctx: CheckContext, surface: Surface,
                candidates: list[tuple[str, str, bool]], limit: int) -> Credential | None:
    """Try (username, password, is_vendor_default) candidates on one surface within the login
    budget; stop at the first success, at a lockout sign (marked in the budget), when the
    service needs no credential, or after ``MAX_ERRORS`` attempts in a row that taught nothing."""
    errors = 0
    budget = ctx.budget
    for username, password, is_default in candidates:
        if has_credential(host, surface.protocol, surface.port):
            return None
        if budget.is_locked(host.address, surface.port, surface.protocol):
            return None
        if not await budget.take(host.address, surface.port, surface.protocol, username, limit):
            continue
        async with ctx.slot():
            result = await surface.attempt(username, password)
        if result.outcome == AuthOutcome.SUCCESS:
            cred = Credential(surface.protocol, surface.port, username, password,
                              path=surface.path, is_vendor_default=is_default)
            host.credentials.append(cred)
            return cred
        if result.outcome == AuthOutcome.LOCKED:
            budget.mark_locked(host.address, surface.port, surface.protocol)
            host.errors.append(f"{surface.protocol}/{surface.port}: lockout sign after a "
                               f"login attempt ({result.detail}); no more attempts there")
            return None
        if result.outcome == AuthOutcome.NO_AUTH:
            return None
        errors = errors + 1 if result.outcome == AuthOutcome.ERROR else 0
        if errors >= MAX_ERRORS:
            return None
    return None
