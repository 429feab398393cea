"""Vendor names: one canonical spelling, OEM relations, MAC addresses."""

from __future__ import annotations

import re

from camaudit.knowledge.fingerprints import FingerprintDB, Vendor

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_CORPORATE = re.compile(
    r"[\s,.]*\b(?:co\.?,?\s*ltd|company|corporation|corp|inc|ltd|limited|llc|gmbh|s\.?a|a\.?b|"
    r"technologies|technology|tech)\b\.?", re.IGNORECASE)
_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")


def _key(text: str) -> str:
    return " " + _NON_ALNUM.sub(" ", text.lower()).strip() + " "


class VendorTable:
    """Canonical vendor lookup built from the fingerprint data's ``vendors`` list."""

    def __init__(self, db: FingerprintDB) -> None:
        self.vendors: dict[str, Vendor] = dict(db.vendors)
        self._exact: dict[str, str] = {}
        words: list[tuple[str, str]] = []
        for v in db.vendors.values():
            for alias in (v.name, *v.aliases):
                k = _key(alias)
                self._exact[k] = v.name
                words.append((k, v.name))
        # Longest alias first so "tp link tapo" wins over "tp link".
        self._words = sorted(words, key=lambda kv: -len(kv[0]))
        self._children: dict[str, set[str]] = {}
        for v in db.vendors.values():
            if v.oem_of:
                self._children.setdefault(v.oem_of, set()).add(v.name)

    def canonical(self, text: str | None) -> str | None:
        """Canonical spelling of a vendor name as a device sent it; unknown names come back
        trimmed of corporate suffixes so they still read well in a report."""
        if text is None:
            return None
        text = text.strip()
        if not text:
            return None
        k = _key(text)
        if k in self._exact:
            return self._exact[k]
        for alias, name in self._words:
            if alias in k:
                return name
        cleaned = _CORPORATE.sub("", text).strip(" ,.-")
        return (cleaned or text)[:64]

    def get(self, name: str | None) -> Vendor | None:
        return self.vendors.get(name) if name else None

    def oem_of(self, name: str | None) -> str | None:
        v = self.get(name)
        return v.oem_of if v else None

    def family(self, name: str) -> set[str]:
        """The vendor, the maker it rebadges and the brands that rebadge it: evidence from any
        of them agrees rather than conflicts."""
        fam = {name} | self._children.get(name, set())
        parent = self.oem_of(name)
        if parent:
            fam.add(parent)
        return fam


def normalise_mac(text: str | None) -> str | None:
    """'ACCC8E3A0A8F', 'ac-cc-8e-3a-0a-8f' -> 'ac:cc:8e:3a:0a:8f'; None when it is no MAC."""
    if not text:
        return None
    hexes = re.sub(r"[^0-9a-f]", "", text.lower())
    if not _MAC_HEX.match(hexes) or len(re.sub(r"[0-9a-fA-F]", "", text)) > 5:
        return None
    return ":".join(hexes[i:i + 2] for i in range(0, 12, 2))
