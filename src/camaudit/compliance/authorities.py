"""Who is who, by date: the authorities and the legal basis a report names, kept as data
(``catalogues/authorities.yaml``) so that a reorganisation changes a data file, not the code.

Each role (the state authority for network security, its provincial arm, the steering body of a
province, the levels of local government) has holders with validity periods; each act of the legal
basis (Directive 23/CT-TTg, the laws on cyber security) has its own.  ``on(day)`` gives what
applies on a scan's date.  Periods of one role never overlap; a period without ``until`` is open.
"""

from __future__ import annotations

import datetime as dt
import itertools
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, HttpUrl, field_validator, model_validator

from camaudit.compliance.catalogue import DATA_DIR, Localised, _load, _Strict

AUTHORITIES_FILE = "authorities.yaml"
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Period(_Strict):
    """Something that holds from ``valid_from`` to ``until`` (both inclusive; None = open)."""

    valid_from: dt.date | None = None
    until: dt.date | None = None
    confirmed: bool
    sources: tuple[HttpUrl, ...] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _period(self) -> Period:
        if self.valid_from and self.until and self.until < self.valid_from:
            raise ValueError("until is before valid_from")
        if not self.confirmed and not self.note.strip():
            raise ValueError("an unconfirmed entry needs a 'note' saying what is not confirmed")
        return self

    def holds_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.until is None or day <= self.until)


class Holder(Period):
    name: Localised  # the organisation (and its unit) as a report names it


class Role(_Strict):
    id: str
    title: Localised  # what the role is, as a label on a report
    holders: tuple[Holder, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"{v!r} is not a slug (lower-case words joined by '-')")
        return v

    @model_validator(mode="after")
    def _no_overlap(self) -> Role:
        spans = sorted(self.holders, key=lambda h: h.valid_from or dt.date.min)
        for a, b in itertools.pairwise(spans):
            if a.until is None or (b.valid_from is not None and b.valid_from <= a.until):
                raise ValueError(f"role {self.id}: holders' periods overlap")
        return self

    def on(self, day: dt.date) -> Holder | None:
        return next((h for h in self.holders if h.holds_on(day)), None)


class Act(Period):
    """An act of the legal basis a report cites (directive, law)."""

    id: str
    code: str = Field(min_length=3)  # "116/2025/QH15"
    name: Localised  # how a report cites it


class Authorities(_Strict):
    version: str = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)
    legal_basis: tuple[Act, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Authorities:
        ids = [r.id for r in self.roles] + [a.id for a in self.legal_basis]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"id {dup[0]}: used twice")
        return self

    def role(self, role_id: str) -> Role:
        for r in self.roles:
            if r.id == role_id:
                return r
        raise KeyError(f"no role {role_id!r} in {AUTHORITIES_FILE}")


@dataclass(frozen=True)
class Situation:
    """What applies on one day, in one language: the acts of the legal basis in force and the
    holder of each role."""

    day: dt.date
    basis: tuple[str, ...]
    roles: tuple[tuple[str, str, str], ...]  # (role id, role title, holder name)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.day.isoformat(), "legal_basis": list(self.basis),
                "authorities": [{"role": r, "title": t, "name": n} for r, t, n in self.roles]}


@functools.cache
def _packaged() -> Authorities:
    return load_authorities(DATA_DIR)


def load_authorities(data_dir: str | Path | None = None) -> Authorities:
    """Load and validate the authorities file (packaged by default)."""
    if data_dir is None:
        return _packaged()
    result: Authorities = _load(Authorities, Path(data_dir) / AUTHORITIES_FILE)
    return result


def situation(day: dt.date, lang: str, data: Authorities | None = None) -> Situation:
    data = data or load_authorities()
    basis = tuple(getattr(a.name, lang) for a in data.legal_basis if a.holds_on(day))
    roles = []
    for r in data.roles:
        h = r.on(day)
        if h is not None:
            roles.append((r.id, getattr(r.title, lang), getattr(h.name, lang)))
    return Situation(day, basis, tuple(roles))

