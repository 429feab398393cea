"""MAC address -> the organisation the IEEE assigned its prefix to, and the kernel's neighbour table.

The registry is read at run time from Debian's ``ieee-data`` package (the IEEE's public MA-L,
MA-M and MA-S CSV files under ``/usr/share/ieee-data``); nothing of it is copied into camaudit.
``CAMAUDIT_IEEE_DATA`` points elsewhere (a directory with ``oui.csv``/``mam.csv``/``oui36.csv``).
Without the package the lookup answers None and identification goes on without it.

A MAC address is only known for a target on the same link: ``neighbour_mac(address)`` reads the
kernel's IPv4 neighbour table (``/proc/net/arp``), filled by the scan's own traffic; a routed
target's entry would be the router's, and the kernel never lists one for it.
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import os
import re
from pathlib import Path

DEFAULT_DIR = Path("/usr/share/ieee-data")
# Longest assignment first: MA-S (36 bits), MA-M (28 bits), MA-L (24 bits).
_FILES = (("oui36.csv", 9), ("mam.csv", 7), ("oui.csv", 6))
_HEX = re.compile(r"^[0-9A-F]+$")
_ARP = Path("/proc/net/arp")
_ATF_COM = 0x2  # a complete entry


def _dir() -> Path:
    return Path(os.environ.get("CAMAUDIT_IEEE_DATA") or DEFAULT_DIR)


@functools.lru_cache(maxsize=4)
def _table(directory: str) -> dict[int, dict[str, str]]:
    """{prefix length in hex digits: {prefix: organisation}} from the registry's CSV files."""
    out: dict[int, dict[str, str]] = {}
    for name, digits in _FILES:
        path = Path(directory) / name
        try:
            with path.open(encoding="utf-8", errors="replace", newline="") as fh:
                rows = csv.reader(fh)
                for row in rows:
                    if len(row) < 3:
                        continue
                    prefix = row[1].strip().upper()
                    org = row[2].strip()
                    if len(prefix) == digits and _HEX.match(prefix) and org and org.lower() != "private":
                        out.setdefault(digits, {})[prefix] = org[:128]
        except OSError:
            continue
    return out


def available() -> bool:
    return bool(_table(str(_dir())))


def organisation(mac: str | None) -> str | None:
    """The organisation holding the MAC's prefix, or None (unknown prefix, no registry, a
    locally administered or multicast address, not a MAC).  A bare 24-bit prefix
    ("4C:BD:8F") is looked up in the MA-L registry only."""
    text = (mac or "").strip()[:64]
    hexes = re.sub(r"[^0-9A-Fa-f]", "", text).upper()
    if len(hexes) not in (6, 12) or re.search(r"[^0-9A-Fa-f:.\-\s]", text):
        return None
    first = int(hexes[:2], 16)
    if first & 0x01 or first & 0x02:  # multicast, or locally administered (randomised)
        return None
    table = _table(str(_dir()))
    for digits in (9, 7, 6):
        if digits > len(hexes):
            continue
        org = table.get(digits, {}).get(hexes[:digits])
        if org:
            return org
    return None


def neighbour_mac(address: str, arp_table: Path = _ARP) -> str | None:
    """The MAC address of an on-link IPv4 neighbour from the kernel's table, or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version != 4 or ip.is_loopback:
        return None
    try:
        lines = arp_table.read_text(encoding="ascii", errors="replace").splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[0] != address:
            continue
        try:
            flags = int(parts[2], 16)
        except ValueError:
            continue
        mac = parts[3].lower()
        if flags & _ATF_COM and mac != "00:00:00:00:00:00":
            return mac
    return None
