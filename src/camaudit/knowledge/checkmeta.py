"""Check metadata kept as data (checks.yaml): titles and remediation (vi, en).  Which
requirement clauses a check bears on is said once, by the catalogues (compliance/catalogues)."""

from __future__ import annotations

import functools
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localised(_Strict):
    vi: str = Field(min_length=5)
    en: str = Field(min_length=5)


class CheckText(_Strict):
    title: Localised
    remediation: Localised


class ChecksFile(_Strict):
    version: str = Field(min_length=1)
    checks: dict[str, CheckText]

    def get(self, check_id: str) -> CheckText:
        try:
            return self.checks[check_id]
        except KeyError:
            raise KeyError(f"checks.yaml has no entry for check {check_id!r}") from None


@functools.cache
def packaged_checks() -> ChecksFile:
    """checks.yaml as shipped with the package (validated)."""
    from camaudit.knowledge import load_model

    path = resources.files("camaudit.knowledge") / "data" / "checks.yaml"
    return load_model(ChecksFile, path.read_bytes(), "checks.yaml")


def clauses_for(check_id: str) -> tuple[str, ...]:
    """The clauses a check bears on: every catalogue clause that names the check (the
    catalogues are the single source of that mapping; checks.yaml holds only the texts)."""
    from camaudit.compliance.catalogue import load_all

    packaged_checks().get(check_id)  # an unknown check id is an error, not an empty list
    return tuple(cl.id for cat in load_all().values() for cl in cat.clauses_for_check(check_id))
