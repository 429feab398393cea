"""Check metadata kept as data (checks.yaml): titles and remediation (vi, en) and the
requirement clauses each check bears on."""

from __future__ import annotations

import functools
import re
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ETSI EN 303 645 provisions ("ETSI-EN-303-645:5.1-1") and, for QCVN 135:2024/BTTTT, named
# placeholders ("QCVN-135:unique-password") until the exact clause numbers are pinned.
_CLAUSE = re.compile(r"^(ETSI-EN-303-645:\d\.\d{1,2}-\d{1,2}|QCVN-135:[a-z][a-z0-9-]+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localised(_Strict):
    vi: str = Field(min_length=5)
    en: str = Field(min_length=5)


class CheckText(_Strict):
    title: Localised
    remediation: Localised
    clauses: tuple[str, ...] = Field(min_length=1)

    @field_validator("clauses")
    @classmethod
    def _clauses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for c in v:
            if not _CLAUSE.match(c):
                raise ValueError(f"clause {c!r} is neither 'ETSI-EN-303-645:N.N-N' nor "
                                 f"'QCVN-135:name'")
        return v


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
    """The clauses a check bears on, read from the packaged checks.yaml (single source)."""
    return packaged_checks().get(check_id).clauses
