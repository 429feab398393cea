"""The Jinja2 environment of the pages: templates from the package, autoescape everywhere,
gettext from :mod:`camaudit.web.i18n`, a few formatting filters, and the security headers every
HTML response carries (CSP default-src 'self': no inline script or style, no CDN)."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from camaudit.web import i18n

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

SEVERITIES = ("critical", "high", "medium", "low", "info")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{i18n.fmt_number(round(value, 1))} %"


@functools.cache
def env() -> Environment:
    e = Environment(loader=PackageLoader("camaudit.web", "templates"),
                    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                    extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                    undefined=StrictUndefined)
    e.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    e.filters["datetime"] = i18n.fmt_datetime
    e.filters["date"] = i18n.fmt_date
    e.filters["num"] = i18n.fmt_number
    e.filters["pct"] = _pct
    e.globals["SEVERITIES"] = SEVERITIES
    e.globals["LANGS"] = i18n.LANGS
    e.globals["current_lang"] = i18n.current_lang
    from camaudit.web.pages.labels import GLOBALS

    e.globals.update(GLOBALS)
    return e


def render_string(name: str, **context: Any) -> str:
    return env().get_template(name).render(**context)


def svg(markup: str) -> Markup:
    """Mark a chart from :mod:`camaudit.reports.charts` (which escapes its labels) as safe."""
    return Markup(markup)
