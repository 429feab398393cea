"""Lists a person can read and a script can pipe (issue 6 item 6; issue 7 item 3).

``table`` is Rich's table, for a terminal; ``plain`` is one tab-separated row per item with a
header row, nothing cut (the default when the output is not a terminal); ``json`` is a list of
objects; ``csv`` has a header row.  Whatever a device sent is text here, never Rich markup, and
control characters (ANSI escapes included) never reach the terminal.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "plain", "json", "csv")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_CSV_FORMULA = re.compile(r"^[\s\u200b-\u200f\ufeff]*[=+\-@]")


def text(value: Any) -> str:
    """A device's string as safe display text: control and bidi characters become U+FFFD."""
    return _CONTROL.sub("\ufffd", "" if value is None else str(value))


def cell(value: Any) -> Text:
    """A table cell that Rich never reads as markup."""
    return Text(text(value))


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="table (default on a terminal), plain (tab-separated, default when piped), "
                             "json or csv.")(f)


def emit(console: Console, columns: Sequence[str], rows: Sequence[dict[str, Any]], fmt: str | None,
         *, title: str | None = None, short: dict[str, int] | None = None) -> None:
    """Print ``rows`` (dicts keyed by ``columns``) in ``fmt`` (None: table on a terminal, else
    plain).  ``short`` cuts those columns to that many characters in the table only."""
    fmt = fmt or ("table" if console.is_terminal else "plain")
    if fmt == "json":
        _write(console, json.dumps([{c: r.get(c) for c in columns} for r in rows], ensure_ascii=False,
                                   indent=2, default=str))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_csv_value(r.get(c)) for c in columns])
        _write(console, buf.getvalue().rstrip("\n"))
        return
    if fmt == "plain":
        lines = ["\t".join(columns)]
        for r in rows:
            lines.append("\t".join(_plain_value(r.get(c)) for c in columns))
        _write(console, "\n".join(lines))
        return
    table = Table(*columns, title=Text(text(title)) if title else None)
    for r in rows:
        values = [text(_join(r.get(c))) for c in columns]
        if short:
            values = [v[: short[c]] if c in short else v for c, v in zip(columns, values, strict=True)]
        table.add_row(*(Text(v) for v in values))
    console.print(table)


def _write(console: Console, data: str) -> None:
    """As is: no wrapping, no tab expansion, no markup or emoji codes."""
    console.file.write(data + "\n")
    console.file.flush()


def _join(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _plain_value(value: Any) -> str:
    return text(_join(value)).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _csv_value(value: Any) -> str:
    v = text(_join(value))
    return "'" + v if _CSV_FORMULA.match(v) else v  # a spreadsheet never runs a device's formula
