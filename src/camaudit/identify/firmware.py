"""Firmware version strings as devices write them -> comparable version tuples.

``normalise_firmware(vendor, text) -> (version_tuple, build)``; the tuple compares with
Python's tuple ordering, so ``(5, 4, 1) < (5, 4, 5)``.  ``build`` is the build number or the
build date (ISO ``YYYY-MM-DD`` when the device gave a date), or None.  Text that holds no
version gives ``((), None)``.

    Hikvision  "V5.4.1 build 160525"                         -> ((5, 4, 1), "160525")
    Dahua      "V2.800.0000000.16.R, Build Date: 2020-05-21" -> ((2, 800, 0, 16), "2020-05-21")
    Amcrest    "V2.420.AC00.18.R, Build Date: 2017-06-29"    -> ((2, 420, 0, 18), "2017-06-29")
    Axis       "6.50.1"                                      -> ((6, 50, 1), None)
    Xiongmai   "V4.02.R11.00000140.10001.131900.00000"       -> ((4, 2, 11), "00000140.10001.131900.00000")
"""

from __future__ import annotations

import re

Version = tuple[int, ...]

_MAX_TEXT = 256
_BUILD_DATE = re.compile(
    r"build(?:\s*date)?\s*[:=]?\s*(\d{4})[-./]?(\d{2})[-./]?(\d{2})\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")  # "2.800.0000000.16.R 2020-05-21"
_BUILD_WORD = re.compile(r"\bbuild\s*[:=]?\s*([0-9A-Za-z][0-9A-Za-z._-]{0,31})", re.IGNORECASE)
_DOTTED = re.compile(r"(?<![\d.])v?(\d{1,9}(?:\.\d{1,9})+)", re.IGNORECASE)
# Dahua: major.minor.<customer field, 7 digits or an OEM code like AC00>.<revision>.<R/T/B...>;
# a non-numeric customer field counts as 0 so every Dahua-family version is a 4-tuple.
_DAHUA = re.compile(r"(?<![\d.])v?(\d{1,3})\.(\d{1,4})\.([0-9A-Z]{1,9})\.(\d{1,4})\.[A-Z]\b", re.IGNORECASE)
# Xiongmai: V<major>.<minor>.R<release>.<hardware id>.<...>
_XIONGMAI = re.compile(r"\bv?(\d{1,2})\.(\d{1,3})\.R(\d{1,3})(?:\.([0-9A-Za-z.]{1,64}))?", re.IGNORECASE)


def _build(text: str) -> str | None:
    m = _BUILD_DATE.search(text)
    if m:
        return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    m = _BUILD_WORD.search(text)
    return m.group(1).rstrip(".,") if m else None


def normalise_firmware(vendor: str | None, text: str | None) -> tuple[Version, str | None]:
    """Version tuple and build of a firmware string; vendor-specific forms first."""
    if not text:
        return (), None
    text = text.strip()[:_MAX_TEXT]
    v = (vendor or "").lower()
    if v in ("dahua", "amcrest", "lorex") or _DAHUA.search(text):
        m = _DAHUA.search(text)
        if m:
            rest = text[m.end():]
            date = _ISO_DATE.search(rest)
            return (tuple(int(g) if g.isdigit() else 0 for g in m.groups()),
                    _build(rest) or (date and "-".join(date.groups())) or _build(text))
    if v in ("xiongmai", "") or "xiongmai" in v:
        m = _XIONGMAI.search(text)
        if m:
            return (int(m.group(1)), int(m.group(2)), int(m.group(3))), m.group(4)
    m = _DOTTED.search(text)
    if not m:
        return (), _build(text)
    version = tuple(int(p) for p in m.group(1).split("."))
    return version, _build(text[m.end():])


def version_text(version: Version) -> str:
    """(5, 4, 1) -> '5.4.1'."""
    return ".".join(str(p) for p in version)
