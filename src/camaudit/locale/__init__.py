"""Message catalogues for reports and the command line (vi by default, en)."""

from __future__ import annotations

import functools
from pathlib import Path

from camaudit.knowledge import load_yaml

LANGS = ("vi", "en")


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    with open(Path(__file__).with_name(f"{lang}.yaml"), encoding="utf-8") as fh:
        return load_yaml(fh.read())


def t(lang: str, key: str) -> str:
    """The message ``key`` in ``lang``; the key itself when missing (a test keeps catalogues in step)."""
    return catalogue(lang).get(key, key)
