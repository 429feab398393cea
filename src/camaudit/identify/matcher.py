"""Run every fingerprint over every observation field and combine what matched.

How evidence is weighed (see ``Matcher.identify``):

* every match carries the fingerprint's certainty and a *tier* from the field it read:
  ``device.*`` (read with a working credential from the vendor's API) is tier 3, the device's
  own structured self-description (``onvif.*``, ``upnp.*``) tier 2, banners and headers tier 1;
* the vendor is the one with the highest tier, then the highest combined certainty
  (noisy-or: ``1 - prod(1 - c)``); evidence for a brand and for the maker it rebadges agrees;
  evidence for any other vendor is a conflict and lowers the confidence;
* model, firmware, serial and MAC come from the strongest match that agrees with the vendor;
* a brand and the maker it rebadges both claimed: the brand is named (the maker's signatures
  are expected on a rebadged device, the brand's name is not);
* the kind comes from ``device.kind``, else from the vendor's model-number rules (then the
  vendor-neutral ones, ``vendor: '*'``), else from the fingerprints' ``kind`` parameters (video
  kinds against ``other``), else from what the vendor makes; a host with nothing that matched is
  UNKNOWN.

Besides the fingerprints of the data files, the matcher reads every text field (``field: '*'``
fingerprints, see ``TEXT_SKIP`` for what is not text) for: model-number grammars, vendor names
(``mentions``), the IANA enterprise number of an SNMP sysObjectID (``enterprise_numbers``) and
the IEEE registry's owner of a MAC address (``mac`` / ``*.mac`` fields; ``camaudit.identify.oui``).
Derived fields (certificate O/OU/CN, ``snmp.enterprise``) come from ``derive.derived``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import re

from camaudit.knowledge.fingerprints import (
    ANY_FIELD, Example, Fingerprint, FingerprintDB, ModelKind, default_db,
)
from camaudit.model import DeviceKind, Identity, Observation

from . import oui
from .derive import derived
from .vendors import VendorTable, normalise_mac

TIER_DEVICE, TIER_SELF, TIER_BANNER = 3, 2, 1
_TIERS = {"device": TIER_DEVICE, "onvif": TIER_SELF, "upnp": TIER_SELF}
_VIDEO = ("camera", "nvr", "dvr")
_MAX_VALUE = 8192  # characters of one field value looked at
_MAX_TEXT = 2048  # characters read by the any-field grammars and vendor names (banners are short)
_CACHE_SIZE = 8192  # distinct (field, value) pairs whose matches are remembered
MENTION_CERTAINTY = 0.6  # a vendor's name found whole in a text field
ENTERPRISE_CERTAINTY = 0.9  # sysObjectID under the vendor's IANA enterprise number
OUI_CERTAINTY = 0.6  # the IEEE registry names the vendor as owner of the MAC prefix

# Fields that are not text a device wrote about itself: ``field: '*'`` fingerprints and vendor
# mentions skip them.  http.body is read by its own fingerprints only (pages embed scripts,
# other vendors' plug-in names, copyright lines).
_SKIP_NAMESPACES = frozenset({"hiksdk", "dvrip"})
TEXT_SKIP = frozenset({
    "status", "path", "auth_scheme", "response_hex", "magic", "utc_time", "not_before",
    "not_after", "expired", "self_signed", "versions", "untested", "version", "cipher",
    "community", "serial", "body", "www_authenticate", "content_type", "key", "signature_hash",
    "error", "error_status", "api", "ret", "session", "auth_required", "soap_fault", "enterprise",
    "mac", "public", "xaddrs", "types", "anonymous", "length",
})


# Page bodies are read by the vendor model-number grammars ('*' fingerprints naming a vendor),
# not by vendor mentions nor kind words: a page names other products, plug-ins, copyrights.
_GRAMMAR_ONLY = frozenset({"http.body"})


def is_text_field(key: str) -> bool:
    ns, _, name = key.partition(".")
    return bool(name) and ns not in _SKIP_NAMESPACES and name not in TEXT_SKIP


def _describes_device(key: str) -> bool:
    """A certificate's issuer describes the CA that signed it, not the device: its words name
    the vendor (a maker's own CA) but say nothing of the model or the kind of device."""
    return not key.startswith("tls.issuer")


def _is_mac_field(key: str) -> bool:
    return key == "mac" or (key.endswith(".mac") and not key.startswith("device."))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


_KIND_SUFFIX = re.compile(
    r"\s+(?:Network\s+(?:Camera|Video\s+Recorder|Dome\s+Camera)|IP\s+Camera|PTZ\s+(?:Dome\s+)?Camera|"
    r"Dome\s+Camera|Bullet\s+Camera|Video\s+Server|Network\s+Video\s+Encoder)\s*$", re.IGNORECASE)


def _word_key(text: str) -> str:
    return re.sub(r"[\s_-]+", "", text.strip().casefold())


def _mention_pattern(words: list[str]) -> str:
    alts = sorted({re.sub(r"(?:\\ | )+", r"[\\s_-]?", re.escape(w.strip())) for w in words if w.strip()},
                  key=lambda a: (-len(a), a))
    return r"(?<![0-9A-Za-z])(?:" + "|".join(alts) + r")(?![0-9A-Za-z])"


@dataclass(frozen=True, slots=True)
class Match:
    """One fingerprint that matched one field of one observation."""

    fingerprint: Fingerprint
    params: dict[str, str]
    protocol: str
    port: int
    tier: int

    @property
    def certainty(self) -> float:
        return self.fingerprint.certainty

    @property
    def evidence(self) -> str:
        return f"{self.fingerprint.id}@{self.protocol}:{self.port}"

    @property
    def rank(self) -> tuple[int, float]:
        return (self.tier, self.fingerprint.certainty)


def noisy_or(values: Iterable[float]) -> float:
    """Combined certainty of independent pieces of evidence."""
    miss = 1.0
    for v in values:
        miss *= 1.0 - v
    return 1.0 - miss


class Matcher:
    """Precompiled fingerprints, indexed by the observation field they read."""

    def __init__(self, db: FingerprintDB | None = None,
                 neighbours: Callable[[str], str | None] | None = None) -> None:
        """``neighbours(address) -> MAC or None`` supplies the MAC address of an on-link target
        when no observation carries one (default: none; ``default_matcher`` reads the kernel's
        neighbour table)."""
        self.db = db or default_db()
        self.neighbours = neighbours
        self.vendors = VendorTable(self.db)
        self._by_field: dict[str, list[Fingerprint]] = {}
        self._any: list[Fingerprint] = []
        self._any_vendor: list[Fingerprint] = []  # the '*' ones that name a vendor
        for fp in self.db.fingerprints:
            _ = fp.regex  # compile now, not on the first host
            if fp.field == ANY_FIELD:
                self._any.append(fp)
                if "vendor" in fp.params:
                    self._any_vendor.append(fp)
            else:
                self._by_field.setdefault(fp.field, []).append(fp)
        self._model_kinds: dict[str, list[ModelKind]] = {}
        for mk in self.db.model_kinds:
            _ = mk.regex
            self._model_kinds.setdefault(mk.vendor, []).append(mk)
        self.mentions: list[Fingerprint] = []
        all_words: list[str] = []
        self._mention_of: dict[str, Fingerprint] = {}
        self._cache: dict[tuple[str, str], list[tuple[Fingerprint, dict[str, str]]]] = {}
        self._enterprise: dict[str, Fingerprint] = {}
        self._oui: dict[str, Fingerprint] = {}
        for v in self.db.vendors.values():
            words = v.mentions if v.mentions is not None else [
                w for w in (v.name, *v.aliases) if len(w.strip()) >= 4]
            if words:
                fp = Fingerprint(
                    id=f"mention.{_slug(v.name)}", field=ANY_FIELD, case="insensitive",
                    description=f"the name {v.name} in a text field", pattern=_mention_pattern(words),
                    certainty=MENTION_CERTAINTY, params={"vendor": v.name},
                    examples=[Example(value=words[0], expect={"vendor": v.name})])
                _ = fp.regex
                self.mentions.append(fp)
                for w in words:
                    self._mention_of.setdefault(_word_key(w), fp)
                    all_words.append(w)
            for n in v.enterprise_numbers:
                self._enterprise[str(n)] = Fingerprint(
                    id=f"snmp-enterprise.{n}", field="snmp.enterprise", case="sensitive",
                    description=f"sysObjectID under {v.name}'s IANA enterprise number {n}",
                    pattern=f"^{n}$", certainty=ENTERPRISE_CERTAINTY, params={"vendor": v.name},
                    examples=[Example(value=str(n), expect={"vendor": v.name})])

        self._mention_rx = (re.compile(_mention_pattern(all_words), re.IGNORECASE)
                            if all_words else None)

    # -- matching ---------------------------------------------------------------------------

    def _oui_match(self, value: str) -> Fingerprint | None:
        org = oui.organisation(value)
        if org is None:
            return None
        name = self.vendors.canonical(org)
        if name is None or name not in self.vendors.vendors:
            return None  # an owner we do not know as a vendor: says nothing
        fp = self._oui.get(name)
        if fp is None:
            fp = self._oui[name] = Fingerprint(
                id=f"mac-oui.{_slug(name)}", field="neigh.mac", case="insensitive",
                description=f"MAC prefix registered to {name} (IEEE registry)", pattern=r"^.+$",
                certainty=OUI_CERTAINTY, params={"vendor": name},
                examples=[Example(value=name, expect={"vendor": name})])
        return fp

    def _mentioned(self, value: str) -> list[tuple[Fingerprint, dict[str, str]]]:
        """Vendor names found whole in the value, one alternation for all vendors, longest name
        first ("Viettel High Technology" is VHT, not Viettel)."""
        if self._mention_rx is None:
            return []
        out: list[tuple[Fingerprint, dict[str, str]]] = []
        seen: set[str] = set()
        for m in self._mention_rx.finditer(value):
            fp = self._mention_of.get(_word_key(m.group(0)))
            if fp is not None and fp.id not in seen:
                seen.add(fp.id)
                out.append((fp, {str(k): v for k, v in fp.params.items()}))
        return out

    def _field_matches(self, key: str, value: str) -> list[tuple[Fingerprint, dict[str, str]]]:
        """Every fingerprint that matches one field value, vendor names made canonical.  Cached
        on (field, value): the same banners and pages come back from host after host."""
        ck = (key, value)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        fps = list(self._by_field.get(key, ()))
        if key == "snmp.enterprise" and value in self._enterprise:
            fps.append(self._enterprise[value])
        text = is_text_field(key)
        if text and _describes_device(key):
            fps += self._any
        elif key in _GRAMMAR_ONLY:
            fps += self._any_vendor
        found: list[tuple[Fingerprint, dict[str, str]]] = []
        head = value[:_MAX_TEXT]
        for fp in fps:
            params = fp.extract(head if fp.field == ANY_FIELD else value)
            if params is not None:
                found.append((fp, params))
        if text:
            found += self._mentioned(head)
        for _, params in found:
            if "vendor" in params:
                canonical = self.vendors.canonical(params["vendor"])
                if canonical is None:
                    del params["vendor"]
                else:
                    params["vendor"] = canonical
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[ck] = found
        return found

    def matches(self, observations: Sequence[Observation]) -> list[Match]:
        """Every fingerprint match over every field of every observation."""
        out: list[Match] = []
        for obs in observations:
            for key, value in derived(obs.fields).items():
                if not isinstance(value, str) or not value:
                    continue
                value = value[:_MAX_VALUE]
                tier = _TIERS.get(key.split(".", 1)[0], TIER_BANNER)
                for fp, params in self._field_matches(key, value):
                    out.append(Match(fp, dict(params), obs.protocol, obs.port, tier))
                if _is_mac_field(key):
                    owner = self._oui_match(value)
                    if owner is not None:
                        got = {"vendor": owner.params["vendor"]}
                        if normalise_mac(value):
                            got["mac"] = value
                        out.append(Match(owner, got, obs.protocol, obs.port, tier))
        return out

    def kind_for_model(self, vendor: str | None, model: str | None) -> DeviceKind | None:
        """What the vendor's model-number rules say the model is (the maker's rules for an OEM)."""
        if not model:
            return None
        for name in (vendor, self.vendors.oem_of(vendor), ANY_FIELD):
            for rule in self._model_kinds.get(name or "", ()):
                if rule.regex.search(model):
                    return DeviceKind(rule.kind)
        return None

    # -- combining --------------------------------------------------------------------------

    def with_neighbour(self, observations: Sequence[Observation]) -> list[Observation]:
        """The observations plus a ``neigh.mac`` one from the neighbour table, when no
        observation names a MAC already and the table knows the host's address."""
        obs = list(observations)
        if self.neighbours is None or not obs:
            return obs
        if any(_is_mac_field(k) or k == "device.mac" for o in obs for k in o.fields):
            return obs
        for address in sorted({o.address for o in obs}):
            try:
                mac = self.neighbours(address)
            except OSError:
                mac = None
            if mac:
                obs.append(Observation(address, 0, "neigh", fields={"neigh.mac": mac}))
        return obs

    def identify(self, observations: Sequence[Observation]) -> Identity:
        """Combine all matches on one host into one Identity."""
        observations = self.with_neighbour(observations)
        matches = self.matches(observations)
        seen_mac = next((mac for o in observations for k, v in o.fields.items()
                         if _is_mac_field(k) and (mac := normalise_mac(v))), None)
        if not matches:
            return Identity(mac=seen_mac)
        # One fingerprint counts once however many ports it matched on: keep its best match.
        best: dict[tuple[str, str | None], Match] = {}
        for m in sorted(matches, key=lambda m: m.rank, reverse=True):
            best.setdefault((m.fingerprint.id, m.params.get("vendor")), m)
        distinct = list(best.values())

        vendor, family = self._choose_vendor(distinct)
        # ``family`` holds None too: a match that names no vendor agrees with any.
        agreeing = [m for m in matches if m.params.get("vendor") in family]
        conflicting = [m for m in distinct if m.params.get("vendor") not in family]

        ident = Identity(vendor=vendor)
        ident.model = self.clean_model(self._pick(agreeing, "model"), vendor)
        ident.firmware = self._pick(agreeing, "firmware")
        ident.serial = self._pick(agreeing, "serial")
        ident.mac = next((mac for m in sorted(agreeing, key=lambda m: m.rank, reverse=True)
                          if (mac := normalise_mac(m.params.get("mac")))), None) or seen_mac
        kind, kind_score = self._choose_kind(vendor, ident.model, agreeing)
        ident.kind = kind

        if vendor is not None:
            support = noisy_or(m.certainty for m in distinct
                               if "vendor" in m.params and m.params["vendor"] in family)
            top_tier = max(m.tier for m in distinct if m.params.get("vendor") == vendor)
            against_same = noisy_or(m.certainty for m in conflicting if m.tier >= top_tier)
            against_lower = noisy_or(m.certainty for m in conflicting if m.tier < top_tier)
            confidence = support * (1 - 0.5 * against_same) * (1 - 0.2 * against_lower)
        else:
            confidence = kind_score
        ident.confidence = round(min(1.0, max(0.0, confidence)), 3)

        seen: set[str] = set()
        for m in sorted(agreeing, key=lambda m: m.rank, reverse=True):
            if m.evidence not in seen:
                seen.add(m.evidence)
                ident.evidence.append(m.evidence)
        parent = self.vendors.oem_of(vendor)
        if parent:
            ident.evidence.append(f"oem_of:{parent}")
        for m in sorted(conflicting, key=lambda m: m.rank, reverse=True):
            ident.evidence.append(f"conflict:{m.evidence}")
        return ident

    def _choose_vendor(self, distinct: list[Match]) -> tuple[str | None, set[str | None]]:
        claims: dict[str, list[Match]] = {}
        for m in distinct:
            if "vendor" in m.params:
                claims.setdefault(m.params["vendor"], []).append(m)
        if not claims:
            return None, {None}

        def score(name: str) -> tuple[int, float, float]:
            fam = self.vendors.family(name)
            support = noisy_or(m.certainty for m in distinct if m.params.get("vendor") in fam)
            direct = max(m.certainty for m in claims[name])
            return (max(m.tier for m in claims[name]), support, direct)

        vendor = max(sorted(claims), key=score)
        brands = [b for b in claims if self.vendors.oem_of(b) == vendor]
        if brands:  # the maker's signatures on a device that names its brand: the brand
            vendor = max(sorted(brands), key=lambda b: (max(m.certainty for m in claims[b]), b))
        return vendor, self.vendors.family(vendor) | {None}

    def clean_model(self, model: str | None, vendor: str | None) -> str | None:
        """The model number alone: "AXIS 221 Network Camera" -> "221", "Hikvision DS-2CD2032-I"
        -> "DS-2CD2032-I" (the vendor's own name in front when a model number follows it, words
        for the kind of device after); "Wyze Cam v3" is a product name and stays whole."""
        if not model:
            return model
        text = model.strip()
        known = self.vendors.get(vendor)
        names = {vendor or ""} | set(known.aliases if known else ())
        for name in sorted((n for n in names if n), key=len, reverse=True):
            rest = text[len(name) + 1:].lstrip(" _-")
            if text.lower().startswith(name.lower()) and len(text) > len(name) \
                    and text[len(name)] in " _-" and re.match(r"\S*\d", rest):
                text = rest  # "AXIS 221" -> "221"; "Wyze Cam v3" stays: its name is the product
                break
        text = _KIND_SUFFIX.sub("", text).strip()
        return text or model.strip()

    @staticmethod
    def _pick(matches: list[Match], param: str) -> str | None:
        found = [m for m in matches if param in m.params]
        if not found:
            return None
        return max(found, key=lambda m: m.rank).params[param][:128]

    def _choose_kind(self, vendor: str | None, model: str | None,
                     agreeing: list[Match]) -> tuple[DeviceKind, float]:
        said = [m for m in agreeing if m.tier == TIER_DEVICE and "kind" in m.params]
        if said:
            return DeviceKind(max(said, key=lambda m: m.rank).params["kind"]), 1.0
        by_model = self.kind_for_model(vendor, model)
        if by_model is not None:
            return by_model, 0.9
        scores: dict[str, float] = {}
        per_fp: dict[tuple[str, str], float] = {}
        for m in agreeing:
            if "kind" in m.params:
                key = (m.fingerprint.id, m.params["kind"])
                per_fp[key] = max(per_fp.get(key, 0.0), m.certainty)
        for (_, kind), c in per_fp.items():
            scores[kind] = noisy_or((scores.get(kind, 0.0), c))
        video = noisy_or(scores.get(k, 0.0) for k in _VIDEO)
        other = scores.get("other", 0.0)
        if video > 0 and video >= other:
            best = max(_VIDEO, key=lambda k: (scores.get(k, 0.0), k == "camera"))
            return DeviceKind(best), video
        if other > 0:
            return DeviceKind.OTHER, other
        made = self.vendors.get(vendor)
        if made is not None:  # nothing said what it is: what the vendor mostly ships
            return DeviceKind(made.makes[0]), 0.0
        return DeviceKind.UNKNOWN, 0.0


_default: Matcher | None = None


def default_matcher() -> Matcher:
    """The matcher over the packaged fingerprints, built on first use; it reads the kernel's
    neighbour table for the MAC address of on-link targets."""
    global _default
    if _default is None:
        _default = Matcher(neighbours=oui.neighbour_mac)
    return _default


def identify(observations: Sequence[Observation], matcher: Matcher | None = None) -> Identity:
    """Who made this host, what model, which firmware, and what kind of device it is."""
    return (matcher or default_matcher()).identify(observations)
