"""The PDF report: the print layout of the HTML report (A4, cover, signature block, running
header, page numbers) drawn by WeasyPrint.

Fonts come from the system through fontconfig (Debian's fonts-noto-core / fonts-dejavu-core
carry every Vietnamese letter); nothing is fetched: the URL fetcher refuses every URL that is
not a local file, and the document itself refers to none.
"""

from __future__ import annotations

import logging
from typing import Any

from camaudit.reports.html import render_print_html


def local_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses http, https, ftp, data… : only file URLs pass."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("file",), allow_redirects=False, timeout=1)


def render_pdf(doc: dict[str, Any], lang: str, kb: Any = None) -> bytes:
    from weasyprint import HTML

    # WeasyPrint logs every CSS property it ignores at WARNING; a report run is not the place
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    html = HTML(string=render_print_html(doc, lang, kb), base_url=None, url_fetcher=local_only_fetcher())
    return html.write_pdf(pdf_identifier=doc["scan"]["id"].encode("ascii", "replace"))
