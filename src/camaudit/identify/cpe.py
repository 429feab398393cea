"""CPE 2.3 names for identified devices, following NVD's vendor/product naming.

NVD names camera firmware ``cpe:2.3:o:<vendor>:<model>_firmware:<version>`` (Hikvision
``hikvision:ds-2cd2032-i_firmware``, Dahua ``dahuasecurity:ipc-hdw1120s_firmware``, Axis
``axis:p1435-le_firmware``).  Only vendors whose NVD vendor name is recorded in the
fingerprint data (``cpe_vendor``) get a CPE; an unknown version is ``*`` (any).
"""

from __future__ import annotations

import re

from camaudit.model import Identity

from .firmware import normalise_firmware, version_text
from .matcher import Matcher, default_matcher

_NEEDS_QUOTE = re.compile(r"([^0-9A-Za-z_.\-])")
_MODEL_CLEAN = re.compile(r"\s+")


def _quote(text: str) -> str:
    """CPE 2.3 formatted-string quoting: backslash before every non-alphanumeric except _ . -"""
    return _NEEDS_QUOTE.sub(r"\\\1", text)


def cpe(identity: Identity, matcher: Matcher | None = None) -> str | None:
    """``cpe:2.3:o:...`` for the identity's firmware, or None when vendor or model is unknown
    or NVD's name for the vendor is not recorded."""
    m = matcher or default_matcher()
    vendor = m.vendors.get(identity.vendor)
    if vendor is None or vendor.cpe_vendor is None or not identity.model:
        return None
    model = _MODEL_CLEAN.sub("_", identity.model.strip().lower())
    product = f"{model}_firmware" if vendor.cpe_firmware_suffix else model
    version, _ = normalise_firmware(identity.vendor, identity.firmware)
    ver = _quote(version_text(version)) if version else "*"
    return f"cpe:2.3:o:{vendor.cpe_vendor}:{_quote(product)}:{ver}:*:*:*:*:*:*:*"
