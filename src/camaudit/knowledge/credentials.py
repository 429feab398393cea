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
    generic: tuple[CredentialEntry, ...]

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

    def vendor_defaults(self, vendor: str | None, service: str, limit: int) -> list[CredentialEntry]:
        """The vendor's defaults for ``service`` in file order; unknown vendor: the first entry of
        each vendor for that service (the most common defaults across vendors), then the second..."""
        if vendor and vendor in self.vendors:
            picked = [e for e in self.vendors[vendor] if e.applies_to(service)]
        else:
            columns = [[e for e in entries if e.applies_to(service)] for entries in self.vendors.values()]
            picked = []
            depth = max((len(c) for c in columns), default=0)
            for i in range(depth):
                picked.extend(c[i] for c in columns if i < len(c))
        return _unique(picked)[:limit]

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


class RoutesFile(_Strict):
    version: str = Field(min_length=1)
    vendors: dict[str, tuple[str, ...]]
    generic: tuple[str, ...]

    @model_validator(mode="after")
    def _paths(self) -> "RoutesFile":
        for where, paths in [*(("vendors." + k, v) for k, v in self.vendors.items()),
                             ("generic", self.generic)]:
            for p in paths:
                if not p.startswith("/") or any(c in p for c in " \r\n\t"):
                    raise ValueError(f"{where}: route {p!r} must start with '/' and hold no spaces")
            if where.startswith("vendors.") and not _VENDOR_KEY.match(where[8:]):
                raise ValueError(f"vendor key {where[8:]!r} must be lower-case")
        return self

    def for_vendor(self, vendor: str | None, limit: int) -> list[str]:
        """The vendor's routes first (when known), then the generic ones, without repeats;
        routes that carry the credential in the URL (``{user}``) are left out: see
        ``url_credential_routes``."""
        ordered = [*(self.vendors.get(vendor or "", ())), *self.generic]
        return [r for r in dict.fromkeys(ordered) if not is_url_credential_route(r)][:limit]

    def url_credential_routes(self, vendor: str | None) -> list[str]:
        """The vendor's routes that take the credential in the URL itself, as Xiongmai
        firmware does (``/user={user}&password={password}&channel=1&stream=0.sdp``)."""
        return [r for r in self.vendors.get(vendor or "", ()) if is_url_credential_route(r)]


def is_url_credential_route(route: str) -> bool:
    return "{user}" in route


def fill_route(route: str, username: str, password: str) -> str:
    """A URL-credential route with the credential put in, percent-encoded."""
    from urllib.parse import quote

    return route.replace("{user}", quote(username, safe="")).replace("{password}", quote(password, safe=""))
