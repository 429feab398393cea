"""Names of the catalogues and profiles, importable without loading any data (the command line
builds its options from them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

CATALOGUES: tuple[str, ...] = ("qcvn11-2026-bca", "qcvn135", "qd724", "etsi303645")
PROFILES: tuple[str, ...] = ("auto", *CATALOGUES, "all")
PROFILE_ALIASES = {"qcvn11": "qcvn11-2026-bca"}  # short names accepted on the command line
PROFILE_CHOICES: tuple[str, ...] = (*PROFILES, *PROFILE_ALIASES)
PROFILE_HELP = ("Requirement catalogue: 'auto' = the binding regulation in force on the scan date "
                "(QCVN 135:2024/BTTTT before 1/7/2026, QCVN 11:2026/BCA from then) with Decision 724 "
                "beside it; a catalogue name judges against it whatever the date; 'all' = every catalogue.")
AS_OF_HELP = ("Judge compliance as on this date (YYYY-MM-DD) instead of the day the scan started; "
              "also CAMAUDIT_AS_OF.")


def _to_date(_ctx: click.Context, _param: click.Parameter, value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def as_of_option(f: F) -> F:
    """The ``--as-of`` option shared by scan, report and assess (a date, or None)."""
    return click.option("--as-of", "as_of", envvar="CAMAUDIT_AS_OF", type=click.DateTime(formats=["%Y-%m-%d"]),
                        default=None, callback=_to_date, help=AS_OF_HELP)(f)
