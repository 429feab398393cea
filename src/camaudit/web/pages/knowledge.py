"""Check titles and remediation texts for the pages, from the packaged knowledge base."""

from __future__ import annotations

import functools
from typing import Any

from camaudit.web.i18n import current_lang


@functools.cache
def _kb() -> Any:
    from camaudit.engine.api import knowledge

    return knowledge()[0]


def check_text(check_id: str) -> tuple[str, str]:
    """(title, remediation) of a check in the request's language; the id when unknown."""
    from camaudit.reports import check_text as text

    try:
        return text(_kb(), check_id, current_lang())
    except Exception:  # noqa: BLE001 - a broken knowledge overlay must not take the pages down
        return check_id, ""
