"""Option values the engine can trust: one place where every number and scope given on the
command line is checked (issue 7 item 7).

A number must be finite (``nan`` and ``inf`` parse as floats and used to pass: ``--timeout nan``
reported a camera with admin/admin as clean) and inside its range; a scope value must name a
network (``--allow ''`` used to mean "no restriction").  A bad value is a click ``BadParameter``,
which the command line turns into one line and exit 2.
"""

from __future__ import annotations

import math
import os
from typing import Any

import click


class Number(click.ParamType):
    """A finite int or float in [low, high]; ``low_open`` makes the low end exclusive."""

    def __init__(self, kind: type, low: float, high: float, *, low_open: bool = False,
                 meaning: str = "") -> None:
        self.kind, self.low, self.high, self.low_open, self.meaning = kind, low, high, low_open, meaning
        self.name = "seconds" if meaning == "seconds" else kind.__name__

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number: float
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = self.kind(text)
            except (TypeError, ValueError):
                what = "a whole number" if self.kind is int else "a number"
                self.fail(f"{value!r} is not {what}", param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            low = f"more than {self.low:g}" if self.low_open else f"at least {self.low:g}"
            self.fail(f"{value!r} is out of range: {low} and at most {self.high:g}"
                      + (f" {self.meaning}" if self.meaning else ""), param, ctx)
        return number


# The ranges: generous for real use, finite for the engine.
TIMEOUT = Number(float, 0, 3600, low_open=True, meaning="seconds")
CONNECT_TIMEOUT = Number(float, 0, 600, low_open=True, meaning="seconds")
RATE = Number(float, 0, 1_000_000, meaning="per second (0: no limit)")
SPACING = Number(float, 0, 3600, meaning="seconds")
CONCURRENCY = Number(int, 1, 65536)
HOST_CONCURRENCY = Number(int, 1, 1024)
HOSTS = Number(int, 1, 65536)


def env_allow() -> list[str]:
    """CAMAUDIT_ALLOW: unset means no restriction; set, it must name at least one network."""
    raw = os.environ.get("CAMAUDIT_ALLOW")
    if raw is None:
        return []
    values = [a for a in raw.replace(",", " ").split() if a]
    if not values:
        raise click.BadParameter("CAMAUDIT_ALLOW is set but names no network; unset it or give a CIDR")
    return values


def scope_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """--allow/--deny: every value names at least one network; an empty one is refused (it
    would otherwise silently mean 'no restriction')."""
    for v in values:
        if not v.replace(",", " ").split():
            raise click.BadParameter("an empty value names no network; give a CIDR such as 192.0.2.0/24",
                                     ctx=ctx, param=param)
    return values
