"""Fields the matcher derives from what a client recorded, so that fingerprints read parts.

``derived(fields) -> dict``: the fields plus

* ``tls.subject_o``, ``tls.subject_ou``, ``tls.subject_cn`` (and ``tls.issuer_*``) parsed from
  the full distinguished names ``tls.subject`` / ``tls.issuer``, written RFC 4514 style
  (``CN=x,O=y``), as OpenSSL prints them (``C = CN, O = y``) or in the old slash form
  (``/C=CN/O=y``); several OU values are joined with `` | ``;
* ``snmp.enterprise``: the IANA private enterprise number under which ``snmp.sysobjectid``
  lies (``1.3.6.1.4.1.39165.1.1`` -> ``39165``, also ``SNMPv2-SMI::enterprises.39165...``);
* ``wsd.name``, ``wsd.hardware``, ``wsd.manufacturer``: the first ONVIF scope of each kind in
  ``wsd.scopes``, %-decoded (``onvif://www.onvif.org/name/AXIS%20M3045-V`` -> ``AXIS M3045-V``).

A field the client already set is never overwritten.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_ATTR = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]*)\s*=\s*(.*?)\s*$", re.S)
_ENTERPRISE = re.compile(
    r"^\s*(?:\.?1\.3\.6\.1\.4\.1|iso\.3\.6\.1\.4\.1|(?:SNMPv2-SMI::)?enterprises)\.(\d{1,10})(?:\.\d+)*\s*$")
_SCOPE = re.compile(r"\bonvif://www\.onvif\.org/(name|hardware|manufacturer)/([^\s]{1,256})", re.I)
_NAMES = {"o": "o", "organizationname": "o", "ou": "ou", "organizationalunitname": "ou",
          "cn": "cn", "commonname": "cn"}
_MAX_DN = 2048
# A separator is a comma, semicolon (curl) or plus that starts another ATTR=value: the commas in
# "O=ZheJiang Dahua Technology CO.,LTD." stay inside the value.
_SEP = re.compile(r"(?<!\\)[,;+]\s*(?=[A-Za-z][A-Za-z0-9.]*\s*=)")


def _split_dn(dn: str) -> list[str]:
    """RDN components of a DN in any of the three usual spellings; backslash escapes kept."""
    dn = dn.strip()[:_MAX_DN]
    if dn.startswith("/"):
        return [p for p in re.split(r"(?<!\\)/", dn) if p]
    return [p for p in _SEP.split(dn) if p.strip()]


def dn_parts(dn: str) -> dict[str, str]:
    """{'o': ..., 'ou': ..., 'cn': ...} of a distinguished name (values unescaped)."""
    out: dict[str, list[str]] = {}
    for comp in _split_dn(dn):
        m = _ATTR.match(comp)
        if not m:
            continue
        key = _NAMES.get(m.group(1).lower())
        if key is None:
            continue
        value = re.sub(r"\\(.)", r"\1", m.group(2)).strip().strip('"')
        if value:
            out.setdefault(key, []).append(value)
    return {k: " | ".join(v) for k, v in out.items()}


def enterprise_number(sysobjectid: str) -> str | None:
    m = _ENTERPRISE.match(sysobjectid or "")
    return m.group(1) if m else None


def derived(fields: dict[str, str]) -> dict[str, str]:
    """``fields`` with the derived ones added (a new dict; the input is not changed)."""
    out = dict(fields)
    for which in ("subject", "issuer"):
        dn = fields.get(f"tls.{which}")
        if isinstance(dn, str) and dn:
            for key, value in dn_parts(dn).items():
                out.setdefault(f"tls.{which}_{key}", value)
    scopes = fields.get("wsd.scopes")
    if isinstance(scopes, str) and scopes:
        for m in _SCOPE.finditer(scopes[:4096]):
            value = unquote(m.group(2)).strip()[:128]
            if value:
                out.setdefault(f"wsd.{m.group(1).lower()}", value)
    oid = fields.get("snmp.sysobjectid")
    if isinstance(oid, str) and "snmp.enterprise" not in out:
        pen = enterprise_number(oid)
        if pen:
            out["snmp.enterprise"] = pen
    return out
