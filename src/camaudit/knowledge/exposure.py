"""Exposure knowledge kept as data: still-image paths served by camera web servers
(snapshot_paths.yaml), vendor debug or maintenance ports that a camera does not need
(needless_ports.yaml) and vendor end-of-support statements (eol.yaml).  Each entry names its
public source; loaders validate the files like the other knowledge files."""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from camaudit.knowledge import load_model, vendor_key

_URL = re.compile(r"^https?://\S+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _vendors(v: tuple[str, ...]) -> tuple[str, ...]:
    for name in v:
        if vendor_key(name) != name:
            raise ValueError(f"vendor {name!r} is not a vendor key (lower case, e.g. 'hikvision')")
    return v


def _sources(v: tuple[str, ...]) -> tuple[str, ...]:
    for url in v:
        if not _URL.match(url):
            raise ValueError(f"source {url!r} is not an http(s) URL")
    return v


Vendors = Annotated[tuple[str, ...], AfterValidator(_vendors)]
Sources = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_sources)]


class SnapshotPath(_Strict):
    path: str = Field(pattern=r"^/\S*$", max_length=200)
    vendors: Vendors = ()  # empty: generic, tried after the vendor's own
    sources: Sources


class SnapshotPathsFile(_Strict):
    version: str = Field(min_length=1)
    paths: tuple[SnapshotPath, ...] = Field(min_length=1)

    def for_vendor(self, vendor: str | None, limit: int) -> list[str]:
        """The vendor's paths first, then the generic ones, at most ``limit``."""
        own = [p.path for p in self.paths if vendor and vendor in p.vendors]
        generic = [p.path for p in self.paths if not p.vendors]
        return list(dict.fromkeys(own + generic))[:limit]


class NeedlessPort(_Strict):
    port: int = Field(ge=1, le=65535)
    transport: str = Field(default="tcp", pattern="^tcp$")
    service: str = Field(min_length=3)
    vendors: Annotated[Vendors, Field(min_length=1)]
    why: str = Field(min_length=20)  # why the camera does not need it, in plain English
    sources: Sources


class NeedlessPortsFile(_Strict):
    version: str = Field(min_length=1)
    ports: tuple[NeedlessPort, ...] = Field(min_length=1)

    def for_vendor(self, vendor: str | None) -> list[NeedlessPort]:
        return [p for p in self.ports if vendor and vendor in p.vendors]


class EolEntry(_Strict):
    """A vendor's statement that a firmware line (``firmware_prefix`` of the version string, as
    the vendor writes it) and/or models no longer get security updates.  Only ``confirmed``
    entries (the cited vendor text says so) make findings."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]+$")
    vendor: str
    models: tuple[str, ...] = ()  # regular expressions searched in the model; empty: every model
    firmware_prefix: str | None = None
    statement: str = Field(min_length=20)  # what the vendor says, in our words
    ended: str | None = Field(default=None, pattern=r"^\d{4}(-\d{2})?$")  # year or year-month
    confirmed: bool
    note: str = ""
    sources: Sources

    @field_validator("vendor")
    @classmethod
    def _vendor(cls, v: str) -> str:
        return _vendors((v,))[0]

    @field_validator("models")
    @classmethod
    def _models(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for m in v:
            re.compile(m)
        return v

    def matches(self, vendor: str | None, model: str | None, firmware: str | None) -> bool:
        if vendor != self.vendor:
            return False
        if self.models and not any(re.search(m, model or "", re.IGNORECASE) for m in self.models):
            return False
        if self.firmware_prefix is not None:
            fw = (firmware or "").strip().lstrip("Vv")
            if not (fw == self.firmware_prefix or fw.startswith(self.firmware_prefix + ".")):
                return False
        return bool(self.models or self.firmware_prefix)


class EolFile(_Strict):
    version: str = Field(min_length=1)
    entries: tuple[EolEntry, ...] = ()

    def match(self, vendor: str | None, model: str | None, firmware: str | None) -> list[EolEntry]:
        """Every entry, confirmed or not, that covers this device."""
        return [e for e in self.entries if e.matches(vendor, model, firmware)]


def _packaged(name: str) -> bytes:
    return (resources.files("camaudit.knowledge") / "data" / name).read_bytes()


@functools.cache
def snapshot_paths() -> SnapshotPathsFile:
    return load_model(SnapshotPathsFile, _packaged("snapshot_paths.yaml"), "snapshot_paths.yaml")


@functools.cache
def needless_ports() -> NeedlessPortsFile:
    return load_model(NeedlessPortsFile, _packaged("needless_ports.yaml"), "needless_ports.yaml")


@functools.cache
def eol() -> EolFile:
    return load_model(EolFile, _packaged("eol.yaml"), "eol.yaml")


def load_eol(path: str | Path) -> EolFile:
    """An eol.yaml from elsewhere (tests, a site's own list)."""
    return load_model(EolFile, Path(path).read_bytes(), Path(path).name)
