"""Identification: Recog-style fingerprints over observations -> Identity.

    identify(observations) -> Identity      vendor, model, firmware, kind, confidence, evidence
    cpe(identity) -> str | None              CPE 2.3 name in NVD's naming
    normalise_firmware(vendor, text)         -> (version tuple, build)
    normalise_vendor(text) -> str | None     one canonical spelling ("HIKVISION" -> "Hikvision")
    oem_of(vendor) -> str | None             the maker a brand rebadges ("Lorex" -> "Dahua")

Evidence lines are ``fingerprint-id@protocol:port``; two more forms may follow them:
``oem_of:<maker>`` when the vendor rebadges another maker's devices, and
``conflict:fingerprint-id@protocol:port`` for evidence that named another vendor.
"""

from __future__ import annotations

from .cpe import cpe
from .firmware import normalise_firmware
from .matcher import Match, Matcher, default_matcher, identify


def normalise_vendor(text: str | None) -> str | None:
    """The canonical spelling of a vendor name."""
    return default_matcher().vendors.canonical(text)


def oem_of(vendor: str | None) -> str | None:
    """The maker whose devices ``vendor`` resells under its own brand, if known."""
    return default_matcher().vendors.oem_of(normalise_vendor(vendor))


__all__ = [
    "Match", "Matcher", "cpe", "default_matcher", "identify", "normalise_firmware",
    "normalise_vendor", "oem_of",
]
