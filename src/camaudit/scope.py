"""Targets and the scope guard.

A target list names addresses (``127.20.0.11``), CIDR blocks (``127.20.0.0/24``), ranges
(``127.20.0.10-127.20.0.20`` or the short ``127.20.0.10-20``), host names, and files of them
(``@hosts.txt`` or an existing path; one target per line, ``#`` comments).  Everything is
expanded lazily so a /8 costs no memory until it is walked.

The scope guard refuses any address outside the allowed networks before a single packet is sent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TARGETS = 1 << 24  # a /8: larger sweeps belong to the distributed ISP mode
MAX_FILE_BYTES = 64 * 1024 * 1024


class TargetError(ValueError):
    """A target that cannot be understood or reached: the message is shown as is."""


class ScopeError(ValueError):
    """A target outside the allowed scope."""


@dataclass(frozen=True)
class Span:
    """An inclusive range of addresses, plus what the user wrote."""

    first: IPAddress
    last: IPAddress
    source: str
    hostname: str | None = None

    def __len__(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __iter__(self) -> Iterator[IPAddress]:
        cls = type(self.first)
        for n in range(int(self.first), int(self.last) + 1):
            yield cls(n)

    def networks(self) -> Iterator[IPNetwork]:
        return ipaddress.summarize_address_range(self.first, self.last)


def _parse_one(token: str, where: str, resolve: bool) -> Span:
    text = token.strip()
    if not text:
        raise TargetError(f"{where}: empty target")
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return Span(net.network_address, net.broadcast_address, text)
        if "-" in text and not _looks_like_hostname(text):
            left, right = text.split("-", 1)
            first: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(left.strip())
            last: ipaddress.IPv4Address | ipaddress.IPv6Address
            right = right.strip()
            if right.isdigit() and isinstance(first, ipaddress.IPv4Address):
                last_octet = int(right)
                if last_octet > 255:
                    raise TargetError(f"{where}: range end {right} is not an octet (0-255)")
                last = ipaddress.IPv4Address((int(first) & 0xFFFFFF00) | last_octet)
            else:
                last = ipaddress.ip_address(right)
            if type(first) is not type(last):
                raise TargetError(f"{where}: range {text!r} mixes IPv4 and IPv6")
            if int(last) < int(first):
                raise TargetError(f"{where}: range {text!r} ends before it starts")
            return Span(first, last, text)
        addr = ipaddress.ip_address(text)
        return Span(addr, addr, text)
    except ValueError as exc:
        if isinstance(exc, TargetError):
            raise
        if _looks_like_hostname(text):
            if not resolve:
                raise TargetError(f"{where}: host names are not allowed here: {text!r}") from None
            try:
                infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
            except socket.gaierror as gai:
                raise TargetError(f"{where}: cannot resolve host name {text!r}: {gai.strerror}") from None
            addr = ipaddress.ip_address(infos[0][4][0])
            return Span(addr, addr, text, hostname=text)
        hint = " (nor an existing file)" if os.sep in text else ""
        raise TargetError(f"{where}: not an address, network, range or host name{hint}: {text!r}") from None


def _looks_like_hostname(text: str) -> bool:
    if any(c.isalpha() for c in text) and ":" not in text:
        labels = text.rstrip(".").split(".")
        return all(lbl and len(lbl) <= 63 and all(c.isalnum() or c == "-" for c in lbl)
                   and not lbl.startswith("-") and not lbl.endswith("-") for lbl in labels)
    return False


def _read_file(path: Path) -> list[tuple[str, str]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TargetError(f"{path}: target file is {size} bytes, more than {MAX_FILE_BYTES}")
        raw = path.read_bytes()
    except OSError as exc:
        raise TargetError(f"{path}: cannot read target file: {exc.strerror or exc}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TargetError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    out = []
    for lineno, line in enumerate(content.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        for tok in line.replace(",", " ").split():
            out.append((tok, f"{path}:{lineno}"))
    return out


@dataclass
class TargetSet:
    spans: list[Span] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(s) for s in self.spans)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        """(address, hostname) pairs, each address once, in the order given."""
        seen: set[int] = set()
        for span in self.spans:
            for addr in span:
                key = int(addr)
                if key in seen:
                    continue
                seen.add(key)
                yield str(addr), span.hostname

    def sources(self) -> list[str]:
        return [s.source for s in self.spans]


def parse_targets(items: Iterable[str], *, resolve: bool = True) -> TargetSet:
    """Parse what the user wrote. Raises TargetError with a one-line message."""
    pending: list[tuple[str, str]] = []
    for i, item in enumerate(items, 1):
        if item.startswith("@"):
            pending.extend(_read_file(Path(item[1:])))
        elif not _maybe_cidr(item) and Path(item).is_file():
            pending.extend(_read_file(Path(item)))
        else:
            for tok in item.replace(",", " ").split():
                pending.append((tok, f"target {i}"))
    if not pending:
        raise TargetError("no targets given")
    spans = [_parse_one(tok, where, resolve) for tok, where in pending]
    ts = TargetSet(spans)
    total = len(ts)
    if total > MAX_TARGETS:
        raise TargetError(f"{total} addresses is more than one scan takes ({MAX_TARGETS}); "
                          "split it or use the distributed ISP mode")
    return ts


def _maybe_cidr(item: str) -> bool:
    try:
        ipaddress.ip_network(item, strict=False)
        return True
    except ValueError:
        return False


@dataclass
class Scope:
    """Networks a scan may touch. Empty ``allowed`` means: only what the targets say, minus
    ``denied``.  Loopback-only by default in tests; set from configuration in production."""

    allowed: list[IPNetwork] = field(default_factory=list)
    denied: list[IPNetwork] = field(default_factory=list)

    @classmethod
    def parse(cls, allowed: Iterable[str] = (), denied: Iterable[str] = ()) -> "Scope":
        def nets(values: Iterable[str], what: str) -> list[IPNetwork]:
            out = []
            for v in values:
                for tok in v.replace(",", " ").split():
                    try:
                        out.append(ipaddress.ip_network(tok, strict=False))
                    except ValueError:
                        raise TargetError(f"{what}: not a network: {tok!r}") from None
            return out

        return cls(nets(allowed, "allowed scope"), nets(denied, "denied scope"))

    def check(self, targets: TargetSet) -> None:
        """Raise ScopeError naming the first target that falls outside the scope."""
        for span in targets.spans:
            for net in span.networks():
                for d in self.denied:
                    if net.version == d.version and net.overlaps(d):
                        raise ScopeError(f"target {span.source} ({net}) touches denied network {d}")
                if self.allowed and not any(
                    _within(net, a) for a in self.allowed
                ):
                    allowed = ", ".join(str(a) for a in self.allowed)
                    raise ScopeError(f"target {span.source} ({net}) is outside the allowed scope ({allowed})")


def _within(net: ipaddress.IPv4Network | ipaddress.IPv6Network,
            outer: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """``net`` lies inside ``outer`` (networks of different families never do)."""
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False
