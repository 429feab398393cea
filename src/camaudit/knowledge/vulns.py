"""Known-vulnerable firmware: the model of vulns.yaml and the range matching.

Firmware strings are compared through ``camaudit.identify.firmware.normalise_firmware(vendor,
text) -> (version_tuple, build)``: both the device's firmware and the range bounds written in
vulns.yaml go through the same function, so a bound is written the way the vendor writes it
("V5.4.0 build 160530", "V2.800.0000000.16.R, Build Date: 2021-07-01", "6.50.1")."""

from __future__ import annotations

import collections
import functools

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from camaudit.model import Severity

Normaliser = Callable[[str, str], tuple[tuple[int, ...], Any]]

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_VECTOR = re.compile(r"^CVSS:3\.[01](/[A-Z]{1,2}:[A-Z])+$")



@functools.lru_cache(maxsize=None)
def _pattern(text: str) -> re.Pattern[str]:
    """Model patterns compiled once (imported feeds bring thousands of them)."""
    return re.compile(text, re.IGNORECASE)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    en: str = Field(min_length=10)
    vi: str = Field(min_length=10)


class Cvss(_Strict):
    score: float = Field(ge=0.0, le=10.0)
    vector: str

    @field_validator("vector")
    @classmethod
    def _vector(cls, v: str) -> str:
        if not _VECTOR.match(v):
            raise ValueError(f"not a CVSS v3 vector: {v!r}")
        return v

    @property
    def severity(self) -> Severity:
        """CVSS v3 qualitative rating (FIRST CVSS v3.1 specification, section 5)."""
        if self.score >= 9.0:
            return Severity.CRITICAL
        if self.score >= 7.0:
            return Severity.HIGH
        if self.score >= 4.0:
            return Severity.MEDIUM
        return Severity.LOW if self.score > 0 else Severity.INFO


class AffectedRange(_Strict):
    """Models (regular expressions searched case-insensitively in the model name; empty = every
    model of the vendor) and a firmware range: ``introduced`` (inclusive) up to ``fixed``
    (exclusive) or ``last_affected`` (inclusive), or ``all_versions``.  ``compare: build`` orders by the build date
    alone, for advisories written as "builds before 210628"."""

    models: tuple[str, ...] = ()
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    all_versions: bool = False  # the advisory names no fixed firmware
    compare: Literal["version", "build"] = "version"
    note: str = ""

    @model_validator(mode="after")
    def _bounds(self) -> "AffectedRange":
        if self.fixed and self.last_affected:
            raise ValueError("give either 'fixed' or 'last_affected', not both")
        if self.all_versions == bool(self.fixed or self.last_affected or self.introduced):
            raise ValueError("a range needs 'fixed' or 'last_affected', or 'all_versions: true' "
                             "and no bounds")
        for m in self.models:
            try:
                re.compile(m)
            except re.error as exc:
                raise ValueError(f"model pattern {m!r}: {exc}") from None
        return self

    def model_matches(self, model: str | None) -> bool:
        if not self.models:
            return True
        return model is not None and bool(model) and any(_pattern(m).search(model) for m in self.models)

    def contains(self, vendor: str, firmware: str, normalise: Normaliser) -> bool | None:
        """True/False when the firmware is inside/outside the range, None when it cannot tell."""
        if self.all_versions:
            return True
        dev = _key(normalise(vendor, firmware), self.compare)
        upper_text = self.fixed or self.last_affected
        upper = _key(normalise(vendor, upper_text), self.compare) if upper_text else None
        lower = _key(normalise(vendor, self.introduced), self.compare) if self.introduced else None
        if dev is None or upper is None or (self.introduced and lower is None):
            return None
        try:
            if lower is not None and _order(dev, lower) < 0:
                return False
            c = _order(dev, upper)
        except ValueError:  # e.g. a build date against a build number: not comparable
            return None
        return c < 0 if self.fixed else c <= 0


def _key(parsed: tuple[tuple[int, ...], Any], compare: str) -> tuple[tuple[int, ...], str | None] | None:
    """(version padded to 8 parts, build) or, to compare builds alone, ((), build)."""
    version, build = parsed
    build = str(build) if build not in (None, "") else None
    if compare == "build":
        return None if build is None else ((), build)
    if not version:
        return None
    return tuple(version) + (0,) * (8 - len(version)), build


def _shape(build: str) -> str:
    """'160525' and '210628' share a shape; '2020-05-21' does not."""
    return re.sub(r"\d", "9", build)


def _order(a: tuple[tuple[int, ...], str | None], b: tuple[tuple[int, ...], str | None]) -> int:
    """-1/0/1; versions first, builds when the versions are equal and both builds are known.
    ValueError when two builds have different shapes."""
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[1] is None or b[1] is None:
        return 0
    if _shape(a[1]) != _shape(b[1]):
        raise ValueError("builds of different shapes")
    return (a[1] > b[1]) - (a[1] < b[1])


class Vuln(_Strict):
    id: str
    vendor: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    product: str = Field(min_length=3)
    summary: Text
    cvss: Cvss
    kev: bool
    confirmed: bool
    note: str = ""
    affected: tuple[AffectedRange, ...] = Field(min_length=1)
    references: tuple[str, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _cve(cls, v: str) -> str:
        if not _CVE.match(v):
            raise ValueError(f"not a CVE id: {v!r}")
        return v

    @field_validator("references")
    @classmethod
    def _refs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for r in v:
            if not r.startswith("https://"):
                raise ValueError(f"reference {r!r} must be an https:// address")
        return v

    @model_validator(mode="after")
    def _unconfirmed_needs_note(self) -> "Vuln":
        if not self.confirmed and not self.note:
            raise ValueError("an unconfirmed entry needs a 'note' saying what was not confirmed")
        return self


@dataclass(frozen=True)
class VulnMatch:
    vuln: Vuln
    range: AffectedRange


class VulnsFile(_Strict):
    version: str = Field(min_length=1)
    vulns: tuple[Vuln, ...]

    @field_validator("vulns")
    @classmethod
    def _unique_ids(cls, v: tuple[Vuln, ...]) -> tuple[Vuln, ...]:
        counts = collections.Counter(x.id for x in v)
        dup = {i for i, n in counts.items() if n > 1}
        if dup:
            raise ValueError(f"duplicate CVE ids: {sorted(dup)}")
        return v

    def match(self, vendor: str | None, model: str | None, firmware: str | None,
              normalise: Normaliser | None = None) -> list[VulnMatch]:
        """Every CVE whose ranges hold this vendor/model/firmware (first matching range each).
        Unknown vendor or firmware: nothing."""
        if not vendor or not firmware:
            return []
        if normalise is None:
            from camaudit.identify.firmware import normalise_firmware
            normalise = normalise_firmware
        out = []
        for v in self.vulns:
            if v.vendor != vendor:
                continue
            for r in v.affected:
                if r.model_matches(model) and r.contains(vendor, firmware, normalise):
                    out.append(VulnMatch(v, r))
                    break
        return out
