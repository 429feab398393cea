"""Default and weak credentials, and RTSP routes: models of credentials.yaml / rtsp_routes.yaml
and the choice of what a check tries, in which order."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Service = Literal["http", "https", "rtsp", "onvif", "telnet", "ftp", "ssh", "xmeye", "hiksdk", "dvrip"]

_VENDOR_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialEntry(_Strict):
    """One user name / password pair and the services it applies to (empty = every service)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=128)  # "" is a real default (Xiongmai, Foscam, Axis-era root)
    services: tuple[Service, ...] = ()
    vendor_default: bool = True
    source: str = Field(min_length=8, description="where this default is documented")
    note: str = ""

    def applies_to(self, service: str) -> bool:
        return not self.services or service in self.services


class CredentialsFile(_Strict):
    version: str = Field(min_length=1)
    vendors: dict[str, tuple[CredentialEntry, ...]]
    # factory defaults tried on a device whose vendor is not known (or has no entry above),
    # ordered by how common each pair is on cameras and DVRs in the wild
    unidentified: tuple[CredentialEntry, ...] = ()
    generic: tuple[CredentialEntry, ...]

    @field_validator("unidentified")
    @classmethod
    def _unidentified_defaults(cls, v: tuple[CredentialEntry, ...]):
        for e in v:
            if not e.vendor_default:
                raise ValueError(f"unidentified entry {e.username!r}: these are factory defaults "
                                 "(vendor_default: true); weak choices go in 'generic'")
        return v

    @field_validator("vendors")
    @classmethod
    def _vendor_keys(cls, v: dict[str, tuple[CredentialEntry, ...]]):
        for key, entries in v.items():
            if not _VENDOR_KEY.match(key):
                raise ValueError(f"vendor key {key!r} must be lower-case (e.g. 'hikvision')")
            for e in entries:
                if not e.vendor_default:
                    raise ValueError(f"{key}: entries under a vendor are vendor defaults; "
                                     f"put {e.username!r} in 'generic' instead")
        return v

    @field_validator("generic")
    @classmethod
    def _generic_not_default(cls, v: tuple[CredentialEntry, ...]):
        for e in v:
            if e.vendor_default:
                raise ValueError(f"generic entry {e.username!r} must say vendor_default: false")
        return v

    def vendor_defaults(self, vendor: str | None, service: str, limit: int,
                        per_account: int | None = None) -> list[CredentialEntry]:
        """The vendor's defaults for ``service`` in file order; a vendor without entries (or not
        identified): the ``unidentified`` list in its order of prevalence, else the first entry
        of each vendor, then the second...  ``per_account`` keeps at most that many entries
        of one user name (the login budget per account)."""
        if vendor and vendor in self.vendors:
            picked = [e for e in self.vendors[vendor] if e.applies_to(service)]
        elif self.unidentified:
            picked = [e for e in self.unidentified if e.applies_to(service)]
        else:
            columns = [[e for e in entries if e.applies_to(service)] for entries in self.vendors.values()]
            picked = []
            depth = max((len(c) for c in columns), default=0)
            for i in range(depth):
                picked.extend(c[i] for c in columns if i < len(c))
        picked = _unique(picked)
        if per_account is not None:
            seen: dict[str, int] = {}
            kept = []
            for e in picked:
                if seen.get(e.username, 0) < per_account:
                    seen[e.username] = seen.get(e.username, 0) + 1
                    kept.append(e)
            picked = kept
        return picked[:limit]

    def generic_weak(self, service: str, limit: int) -> list[CredentialEntry]:
        return _unique([e for e in self.generic if e.applies_to(service)])[:limit]


def _unique(entries: list[CredentialEntry]) -> list[CredentialEntry]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in entries:
        if (e.username, e.password) not in seen:
            seen.add((e.username, e.password))
            out.append(e)
    return out


class RouteEntry(_Strict):
    """One stream route, the vendors that document it (empty: many OEMs) and where it is said."""

    path: str = Field(min_length=1, max_length=200)
    vendors: tuple[str, ...] = ()
    source: str = Field(min_length=8, description="where this route is documented")

    @field_validator("path")
    @classmethod
    def _path(cls, p: str) -> str:
        if not p.startswith("/") or any(c in p for c in " \r\n\t"):
            raise ValueError(f"route {p!r} must start with '/' and hold no spaces")
        return p

    @field_validator("vendors")
    @classmethod
    def _vendors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for key in v:
            if not _VENDOR_KEY.match(key):
                raise ValueError(f"vendor key {key!r} must be lower-case (e.g. 'hikvision')")
        return v


class RoutesFile(_Strict):
    """Stream routes in order of prevalence (see rtsp_routes.yaml)."""

    version: str = Field(min_length=1)
    routes: tuple[RouteEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "RoutesFile":
        seen: set[str] = set()
        for i, r in enumerate(self.routes):
            if r.path in seen:
                raise ValueError(f"routes[{i}]: {r.path!r} is listed twice")
            seen.add(r.path)
        return self

    @property
    def vendors(self) -> dict[str, tuple[str, ...]]:
        """vendor -> its routes, in file order."""
        out: dict[str, list[str]] = {}
        for r in self.routes:
            for v in r.vendors:
                out.setdefault(v, []).append(r.path)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def generic(self) -> tuple[str, ...]:
        """Every route in order of prevalence (those carrying a credential left out)."""
        return tuple(r.path for r in self.routes if not is_url_credential_route(r.path))

    def for_vendor(self, vendor: str | None, limit: int) -> list[str]:
        """The vendor's routes first (when known), then every route by prevalence, without
        repeats; routes that carry the credential in the URL (``{user}``) are left out: see
        ``url_credential_routes``."""
        ordered = [*(self.vendors.get(vendor or "", ())), *self.generic]
        return [r for r in dict.fromkeys(ordered) if not is_url_credential_route(r)][:limit]

    def url_credential_routes(self, vendor: str | None) -> list[str]:
        """The vendor's routes that take the credential in the URL itself, as Xiongmai
        firmware does (``/user={user}&password={password}&channel=1&stream=0.sdp``)."""
        return [r for r in self.vendors.get(vendor or "", ()) if is_url_credential_route(r)]

    def source_of(self, path: str) -> str:
        return next((r.source for r in self.routes if r.path == path), "")


def is_url_credential_route(route: str) -> bool:
    return "{user}" in route


def fill_route(route: str, username: str, password: str) -> str:
    """A URL-credential route with the credential put in, percent-encoded."""
    from urllib.parse import quote

    return route.replace("{user}", quote(username, safe="")).replace("{password}", quote(password, safe=""))
