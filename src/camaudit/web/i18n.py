"""Translations of the web pages: gettext catalogues (.po) read at start-up, no compile step.

Vietnamese is the default; English on request (``?lang=en``, remembered in a cookie).  The
locale of the request lives in a ContextVar set by :class:`LocaleMiddleware`; templates use
``{{ _("...") }}`` (jinja2.ext.i18n, newstyle) which reads it.  Dates are shown in
Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from contextvars import ContextVar
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
COOKIE = "lang"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_lang: ContextVar[str] = ContextVar("camaudit_web_lang", default=DEFAULT_LANG)


def po_path(lang: str) -> Any:
    return files("camaudit.web") / "translations" / lang / "LC_MESSAGES" / "messages.po"


def read_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


@functools.cache
def translations(lang: str) -> Translations:
    """The catalogue of ``lang`` compiled in memory (read_po -> write_mo -> Translations)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    buf = io.BytesIO()
    write_mo(buf, read_catalog(lang), use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf)


def current_lang() -> str:
    return _lang.get()


def set_lang(lang: str) -> Any:
    """Set the request's language; returns the token to reset it."""
    return _lang.set(lang if lang in LANGS else DEFAULT_LANG)


def gettext(message: str, **variables: Any) -> str:
    """The message in the request's language; ``%(name)s`` placeholders filled from ``variables``."""
    text = translations(_lang.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = translations(_lang.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def _parse(value: Any) -> Any:
    """Services hand dates as ISO strings or datetimes; an unreadable one is shown as is."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def fmt_datetime(value: dt.datetime | str | None) -> str:
    value = _parse(value)
    if value is None:
        return "—"
    if not isinstance(value, dt.datetime):
        return fmt_date(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # the same numeric pattern in both languages: strftime is a hundred times cheaper than Babel
    # on a page of 300 rows
    return value.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


def fmt_date(value: dt.date | dt.datetime | str | None) -> str:
    value = _parse(value)
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(TZ).date()
    if not isinstance(value, dt.date):
        return "—"
    return value.strftime("%d/%m/%Y")


def fmt_number(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):  # the common case (counts), without Babel: 1.234 in Vietnamese, 1,234 in English
        text = f"{value:,}"
        return text.replace(",", ".") if _lang.get() == "vi" else text
    return format_decimal(value, locale=_lang.get())


def pick_lang(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The request's language: ``?lang=`` first, then the cookie, else Vietnamese.  The
    Accept-Language header is not followed: the platform is Vietnamese unless asked otherwise."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return str(candidate)
    return DEFAULT_LANG


class LocaleMiddleware:
    """Pure ASGI middleware: sets the language ContextVar for the request, and remembers an
    explicit ``?lang=`` in a cookie."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from urllib.parse import parse_qs

        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookie = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    k, _sep, v = part.strip().partition("=")
                    if k == COOKIE:
                        cookie = v
        lang = pick_lang(query, cookie, None)
        token = _lang.set(lang)
        remember = query in LANGS and query != cookie

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if remember and message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", f"{COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _lang.reset(token)


# -- catalogue maintenance (developers: `python -m camaudit.web.i18n` after changing a text) --------

def extract() -> Catalog:
    """Every message of the templates and the page code, as a fresh catalogue template."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parent
    cat = Catalog(project="camaudit", charset="utf-8")
    sources = [
        (root / "templates", [("**.html", "jinja2")],
         {"**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}}),
        (root, [("pages/**.py", "python"), ("i18n.py", "ignore")], {}),
    ]
    for folder, method_map, options in sources:
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
                str(folder), method_map=method_map, options_map=options):
            cat.add(message, locations=[(filename, lineno)])
    return cat


def update_catalogs() -> None:
    """Merge the extracted messages into each language's .po (new ones empty: the tests fail until
    they are translated; English gets the message itself)."""
    from pathlib import Path

    from babel.messages.pofile import write_po

    template = extract()
    for lang in LANGS:
        path = Path(__file__).parent / "translations" / lang / "LC_MESSAGES" / "messages.po"
        if path.exists():
            with open(path, "rb") as fh:
                cat = read_po(fh, locale=lang)
        else:
            cat = Catalog(locale=lang, project="camaudit", charset="utf-8")
        cat.update(template, no_fuzzy_matching=True)
        for msg in cat:
            if msg.id and lang == "en" and not msg.string:
                msg.string = msg.id
        cat.obsolete.clear()
        cat.fuzzy = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            write_po(fh, cat, width=100, omit_header=False, sort_output=True, include_lineno=False)


if __name__ == "__main__":
    update_catalogs()
