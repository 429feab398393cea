"""Targets and the scope guard.

A target list names addresses (``127.20.0.11``), CIDR blocks (``127.20.0.0/24``), ranges
(``127.20.0.10-127.20.0.20`` or the short ``127.20.0.10-20``), host names, and files of them
(``@hosts.txt`` or an existing path; one target per line, ``#`` comments).  Everything is
expanded lazily so a /8 costs no memory until it is walked.

Every address is *normalised* before any decision is taken on it (``canonical``): an
IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible (``::a.b.c.d``) IPv6 address is the IPv4
address it names, and the other spellings the C library accepts (``127.1``, ``0x7f.0.0.1``,
``2130706433``, ``0177.0.0.1``) are the address they spell.  A v6 address that embeds an IPv4
address a translator would reach (NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo
``2001::/32``: its server and, inverted, its client) is refused when that IPv4 address is denied.

The scope guard refuses any address outside the allowed networks before a single packet is
sent, and stays the single gate during the scan: ``guarding`` makes a ``Scope`` bound to the
scan's targets the active one, and every client (sweep, TCP, TLS, HTTP request, UDP datagram)
asks ``admit`` before it connects, so an address a device points to (a redirect, an SSDP
LOCATION, a WS-Discovery XAddr) or a host name's answer can never widen the scan.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import stat
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TARGETS = 1 << 24  # a /8: larger sweeps belong to the distributed ISP mode
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TARGET_CHARS = 1024  # one target as written; longer is refused before any file or DNS call
MAX_HOSTNAME = 253  # RFC 1035 section 2.3.4, in text form

# Refused whatever the scope says: "this network", multicast, reserved and limited broadcast,
# IPv6 multicast and the unspecified address.  Mapped and compatible spellings are normalised
# first, so ``::ffff:224.0.0.1`` is refused as 224.0.0.1.
BUILTIN_REFUSED: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "ff00::/8", "::/128"))

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # RFC 4291 2.5.5.2
_COMPAT = ipaddress.IPv6Network("::/96")  # RFC 4291 2.5.5.1 (deprecated, still routed by some stacks)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: a translator reaches the IPv4 address
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056: 2002:AABB:CCDD::/48 <-> A.B.C.D
_TEREDO = ipaddress.IPv6Network("2001::/32")  # RFC 4380: 2001:0:<server v4>:<flags>:<port>:<~client v4>
_LDH_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_ATON = re.compile(r"[0-9A-Fa-fXx.]+")


class TargetError(ValueError):
    """A target that cannot be understood or reached: the message is shown as is."""


class ScopeError(ValueError):
    """A target outside the allowed scope."""


# ------------------------------------------------------------------ one address, any spelling


def canonical(ip: IPAddress) -> IPAddress:
    """The address a connection to ``ip`` reaches: IPv4-mapped and IPv4-compatible IPv6
    addresses are their IPv4 address (``::`` and ``::1`` stay what they are)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        n = int(ip)
        if 1 < n <= 0xFFFFFFFF:
            return ipaddress.IPv4Address(n)
    return ip


def parse_address(text: str) -> IPAddress:
    """An address in any spelling a socket call accepts, normalised (``canonical``).

    ``[::1]``, ``::ffff:127.0.0.1``, ``127.1``, ``0x7f.0.0.1``, ``2130706433`` and
    ``0177.0.0.1`` (inet_aton's octal) are all accepted.  ValueError when it is not an address."""
    try:  # fast path, asked before every connection: a dotted quad already in canonical form
        packed = socket.inet_pton(socket.AF_INET, text)
        if socket.inet_ntop(socket.AF_INET, packed) == text:
            return ipaddress.IPv4Address(packed)
    except (OSError, TypeError, ValueError):
        pass
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        return canonical(ipaddress.ip_address(t))
    except ValueError:
        pass
    if t and _ATON.fullmatch(t) and not t.startswith(".") and not t.endswith(".."):
        try:  # the C library's spellings: what getaddrinfo/connect would make of it
            return ipaddress.IPv4Address(socket.inet_aton(t))
        except OSError:
            pass
    raise ValueError(f"not an IP address: {_shown(text)}")


def _canonical_net(net: IPNetwork) -> IPNetwork:
    """An IPv6 network that lies in the mapped or compatible block, as its IPv4 network."""
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        base = int(net.network_address)
        if net.subnet_of(_MAPPED):
            return ipaddress.IPv4Network((base - int(_MAPPED.network_address), net.prefixlen - 96))
        if net.subnet_of(_COMPAT) and 1 not in (base, int(net.broadcast_address)) and base > 1:
            return ipaddress.IPv4Network((base, net.prefixlen - 96))
    return net


def _embedded(net: IPNetwork) -> list[IPNetwork]:
    """``net`` and the IPv4 networks that its addresses reach through a mapping or a translator
    (mapped, compatible, NAT64, 6to4): a deny rule on the IPv4 network holds for all of them."""
    out: list[IPNetwork] = [net]
    if not isinstance(net, ipaddress.IPv6Network):
        return out
    for region in (_MAPPED, _COMPAT, _NAT64):
        if net.subnet_of(region):
            out.append(ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96)))
        elif region.subnet_of(net):
            out.append(ipaddress.IPv4Network("0.0.0.0/0"))
    if net.subnet_of(_SIX_TO_FOUR):
        v4 = (int(net.network_address) >> 80) & 0xFFFFFFFF
        out.append(ipaddress.IPv4Network((v4, min(32, net.prefixlen - 16)), strict=False))
    elif _SIX_TO_FOUR.subnet_of(net):
        out.append(ipaddress.IPv4Network("0.0.0.0/0"))
    if net.subnet_of(_TEREDO):
        base = int(net.network_address)
        # the server's address (bits 32-63) and the client's, stored inverted (the low 32 bits):
        # the inverse of a prefix block is a prefix block of the same length
        out.append(ipaddress.IPv4Network(((base >> 64) & 0xFFFFFFFF, max(0, min(32, net.prefixlen - 32))),
                                         strict=False))
        client_len = max(0, net.prefixlen - 96)
        mask = (0xFFFFFFFF << (32 - client_len)) & 0xFFFFFFFF
        out.append(ipaddress.IPv4Network((~base & mask, client_len)))
    elif _TEREDO.subnet_of(net):
        out.append(ipaddress.IPv4Network("0.0.0.0/0"))
    return out


def parse_network(text: str, where: str) -> IPNetwork:
    """A CIDR block as written; refused (TargetError) when its address has host bits set,
    since ``127.88.2.0/22`` would silently mean 127.88.0.0-127.88.3.255."""
    t = text.strip()
    addr_text, _, prefix = t.partition("/")
    try:
        addr = ipaddress.ip_address(addr_text.strip("[]"))
        net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    except ValueError:
        raise TargetError(f"{where}: not an address, network, range or host name: {_shown(text)}") from None
    if net.network_address != addr:
        raise TargetError(f"{where}: {t} has host bits set: the network is {net} "
                          f"({net.network_address}-{net.broadcast_address}); write that, or the "
                          f"range {addr}-{net.broadcast_address}")
    return _canonical_net(net)


# ------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Span:
    """An inclusive range of addresses, plus what the user wrote."""

    first: IPAddress
    last: IPAddress
    source: str
    hostname: str | None = None

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[IPAddress]:
        cls = type(self.first)
        for n in range(int(self.first), int(self.last) + 1):
            yield cls(n)

    def networks(self) -> Iterator[IPNetwork]:
        return ipaddress.summarize_address_range(self.first, self.last)


def _normalised(first: IPAddress, last: IPAddress, source: str, hostname: str | None = None) -> list[Span]:
    """Split an IPv6 span where it crosses the compatible (``::a.b.c.d``) or mapped
    (``::ffff:a.b.c.d``) blocks: those parts are IPv4 spans."""
    if isinstance(first, ipaddress.IPv4Address):
        return [Span(first, last, source, hostname)]
    out: list[Span] = []
    cur, end = int(first), int(last)
    v6 = ipaddress.IPv6Address
    for lo, hi, off in ((2, 0xFFFFFFFF, 0), (0xFFFF00000000, 0xFFFFFFFFFFFF, 0xFFFF00000000)):
        if hi < cur or lo > end:
            continue
        if cur < lo:
            out.append(Span(v6(cur), v6(lo - 1), source, hostname))
            cur = lo
        stop = min(hi, end)
        out.append(Span(ipaddress.IPv4Address(cur - off), ipaddress.IPv4Address(stop - off), source, hostname))
        cur = stop + 1
    if cur <= end:
        out.append(Span(v6(cur), v6(end), source, hostname))
    return out


def _parse_one(token: str, where: str, resolve: bool) -> list[Span]:
    text = token.strip()
    if not text:
        raise TargetError(f"{where}: empty target")
    if len(text) > MAX_TARGET_CHARS:
        raise TargetError(f"{where}: a target of {len(text)} characters is not an address, network, "
                          f"range or host name")
    if "/" in text:
        net = parse_network(text, where)
        return _normalised(net.network_address, net.broadcast_address, text)
    try:
        addr = parse_address(text)
        return _normalised(addr, addr, text)
    except ValueError:
        pass
    if "-" in text and not looks_like_hostname(text):
        left, right = text.split("-", 1)
        try:
            first = parse_address(left)
            right = right.strip()
            if right.isdigit() and isinstance(first, ipaddress.IPv4Address) and "." in left:
                last_octet = int(right)
                if last_octet > 255:
                    raise TargetError(f"{where}: range end {right} is not an octet (0-255)")
                last: IPAddress = ipaddress.IPv4Address((int(first) & 0xFFFFFF00) | last_octet)
            else:
                last = parse_address(right)
        except TargetError:
            raise
        except ValueError:
            raise TargetError(f"{where}: not an address, network, range or host name: {_shown(text)}") from None
        if type(first) is not type(last):
            raise TargetError(f"{where}: range {_shown(text)} mixes IPv4 and IPv6")
        if int(last) < int(first):
            raise TargetError(f"{where}: range {_shown(text)} ends before it starts")
        return _normalised(first, last, text)
    if looks_like_hostname(text):
        if not resolve:
            raise TargetError(f"{where}: {_shown(text)} is a host name and host names are not resolved here "
                              "(--no-resolve); give its address")
        try:
            infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as gai:
            reason = gai.strerror if isinstance(gai, socket.gaierror) else "not a valid name"
            raise TargetError(f"{where}: cannot resolve host name {_shown(text)}: {reason}") from None
        addr = parse_address(str(infos[0][4][0]).split("%", 1)[0])  # the scope check sees this
        return _normalised(addr, addr, text, hostname=text)
    hint = " (nor an existing file)" if os.sep in text else ""
    raise TargetError(f"{where}: not an address, network, range or host name{hint}: {_shown(text)}")


def _shown(text: str, limit: int = 80) -> str:
    """What the user wrote, quoted, cut for a one-line message."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def looks_like_hostname(text: str) -> bool:
    """An ASCII host name by RFC 1123 (letters, digits, hyphens; labels of 1-63, 253 in all)
    with a letter in it and a last label that is not all digits (RFC 3696 2), and that the C
    library would not read as an address: only such a word is sent to DNS."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > MAX_HOSTNAME or not name.isascii() or not any(c.isalpha() for c in name):
        return False
    labels = name.split(".")
    if not all(_LDH_LABEL.fullmatch(lbl) for lbl in labels) or labels[-1].isdigit():
        return False
    return not _ATON.fullmatch(name) or not _aton_ok(name)


def _aton_ok(text: str) -> bool:
    try:
        socket.inet_aton(text)
        return True
    except OSError:
        return False


def _read_file(path: Path) -> list[tuple[str, str]]:
    """Lines of a target file, read by bytes up to the cap whatever the file is (a device, a
    FIFO, /dev/stdin): never by trusting ``stat``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer must not hang here
    except OSError as exc:
        raise TargetError(f"{path}: cannot read target file: {exc.strerror or exc}") from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise TargetError(f"{path}: cannot read target file: it is a directory")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise TargetError(f"{path}: target file is larger than {MAX_FILE_BYTES} bytes; refused")
        raw = b"".join(chunks)
    except OSError as exc:
        raise TargetError(f"{path}: cannot read target file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
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
        return sum(s.size for s in self.spans)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        """(address, hostname) pairs, each address once, in the order given."""
        seen: set[int] = set()
        for span in self.spans:
            v6 = span.first.version == 6
            for addr in span:
                key = -1 - int(addr) if v6 else int(addr)
                if key in seen:
                    continue
                seen.add(key)
                yield str(addr), span.hostname

    def sources(self) -> list[str]:
        return [s.source for s in self.spans]


def _is_file(item: str) -> bool:
    try:
        return Path(item).is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def parse_targets(items: Iterable[str], *, resolve: bool = True) -> TargetSet:
    """Parse what the user wrote. Raises TargetError with a one-line message."""
    pending: list[tuple[str, str]] = []
    for i, item in enumerate(items, 1):
        if len(item) > MAX_TARGET_CHARS and not item.startswith("@"):
            raise TargetError(f"target {i}: a target of {len(item)} characters is not an address, "
                              f"network, range, host name or file")
        if item.startswith("@"):
            pending.extend(_read_file(Path(item[1:])))
        elif not _maybe_cidr(item) and _is_file(item):
            pending.extend(_read_file(Path(item)))
        else:
            for tok in item.replace(",", " ").split():
                pending.append((tok, f"target {i}"))
    if not pending:
        raise TargetError("no targets given")
    spans: list[Span] = []
    total = 0
    for tok, where in pending:
        for span in _parse_one(tok, where, resolve):
            spans.append(span)
            total += span.size
            if total > MAX_TARGETS:
                raise TargetError(f"more than {MAX_TARGETS} addresses is more than one scan takes "
                                  f"({where}: {tok}); split it or use the distributed ISP mode")
    return TargetSet(spans)


def _maybe_cidr(item: str) -> bool:
    try:
        ipaddress.ip_network(item, strict=False)
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------ the guard


@dataclass
class Scope:
    """Networks a scan may touch. Empty ``allowed`` means: only what the targets say, minus
    ``denied``; ``BUILTIN_REFUSED`` is always denied.  Networks are normalised as addresses are."""

    allowed: list[IPNetwork] = field(default_factory=list)
    denied: list[IPNetwork] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.allowed = [_canonical_net(n) for n in self.allowed]
        self.denied = [_canonical_net(n) for n in self.denied]
        views = [(d, v) for d in list(self.denied) + list(BUILTIN_REFUSED) for v in _embedded(d)]
        self._deny_views: list[tuple[IPNetwork, IPNetwork]] = views
        # the same rules as integer ranges, for ``admit`` (asked before every connection)
        self._deny_ranges = [(v.version, int(v.network_address), int(v.broadcast_address), d) for d, v in views]
        self._allow_ranges = [(a.version, int(a.network_address), int(a.broadcast_address)) for a in self.allowed]

    @classmethod
    def parse(cls, allowed: Iterable[str] = (), denied: Iterable[str] = ()) -> "Scope":
        def nets(values: Iterable[str], what: str) -> list[IPNetwork]:
            out = []
            for v in values:
                for tok in v.replace(",", " ").split():
                    net = tok if "/" in tok else _host_net(tok)
                    if net is None:
                        raise TargetError(f"{what}: not a network: {_shown(tok)}")
                    out.append(parse_network(net, what))
            return out

        return cls(nets(allowed, "allowed scope"), nets(denied, "denied scope"))

    def _denied_by(self, net: IPNetwork) -> IPNetwork | None:
        for view in _embedded(net):
            for rule, dv in self._deny_views:
                if view.version == dv.version and view.overlaps(dv):
                    return rule
        return None

    def _allows(self, net: IPNetwork) -> bool:
        return not self.allowed or any(
            net.version == a.version and net.subnet_of(a) for a in self.allowed)  # type: ignore[arg-type]

    def check(self, targets: TargetSet) -> None:
        """Raise ScopeError naming the first target that falls outside the scope."""
        for span in targets.spans:
            for net in span.networks():
                rule = self._denied_by(net)
                if rule is not None:
                    raise ScopeError(f"target {span.source} ({net}) touches denied network {rule}")
                if not self._allows(net):
                    allowed = ", ".join(str(a) for a in self.allowed)
                    raise ScopeError(f"target {span.source} ({net}) is outside the allowed scope ({allowed})")

    def admit(self, address: str | IPAddress) -> IPAddress:
        """The normalised address when this scope lets it be contacted; ScopeError otherwise."""
        try:
            ip = canonical(address) if not isinstance(address, str) else parse_address(address)
        except ValueError:
            raise ScopeError(f"{str(address)[:80]!r} is not an address: refused") from None
        n, version = int(ip), ip.version
        seen = [(version, n)]
        if version == 6:  # the IPv4 address a translator would reach (mapped/compatible: canonical)
            if n >> 32 == int(_NAT64.network_address) >> 32:
                seen.append((4, n & 0xFFFFFFFF))
            if n >> 112 == 0x2002:
                seen.append((4, (n >> 80) & 0xFFFFFFFF))
            if n >> 96 == int(_TEREDO.network_address) >> 96:  # Teredo: the server, the client (inverted)
                seen += [(4, (n >> 64) & 0xFFFFFFFF), (4, ~n & 0xFFFFFFFF)]
        for v, lo, hi, rule in self._deny_ranges:
            for sv, sn in seen:
                if sv == v and lo <= sn <= hi:
                    raise ScopeError(f"{ip} is in denied network {rule}: refused")
        if self._allow_ranges and not any(v == version and lo <= n <= hi for v, lo, hi in self._allow_ranges):
            raise ScopeError(f"{ip} is outside the allowed scope: refused")
        return ip


def _host_net(token: str) -> str | None:
    """A bare address in --allow/--deny is its /32 (/128), in any spelling; None if not one."""
    try:
        ip = parse_address(token)
    except ValueError:
        return None
    return f"{ip}/{ip.max_prefixlen}"


class Guard:
    """A scope bound to one scan's targets: what may be contacted while the scan runs."""

    def __init__(self, scope: Scope, targets: TargetSet | None = None) -> None:
        self.scope = scope
        self._ranges: dict[int, tuple[list[int], list[int]]] | None = None
        if targets is not None:
            self._ranges = {}
            for version in (4, 6):
                spans = sorted((int(s.first), int(s.last)) for s in targets.spans if s.first.version == version)
                merged: list[list[int]] = []
                for a, b in spans:
                    if merged and a <= merged[-1][1] + 1:
                        merged[-1][1] = max(merged[-1][1], b)
                    else:
                        merged.append([a, b])
                self._ranges[version] = ([m[0] for m in merged], [m[1] for m in merged])

    def admit(self, address: str | IPAddress) -> str:
        ip = self.scope.admit(address)
        if self._ranges is not None:
            starts, ends = self._ranges[ip.version]
            i = bisect_right(starts, int(ip)) - 1
            if i < 0 or int(ip) > ends[i]:
                raise ScopeError(f"{ip} is not one of the scan's targets: refused")
        return str(ip)


_BUILTIN = Guard(Scope())
_ACTIVE: ContextVar[Guard | None] = ContextVar("camaudit_scope_guard", default=None)


@contextlib.contextmanager
def guarding(scope: Scope | None, targets: TargetSet | None) -> Iterator[Guard]:
    """Make ``scope`` bound to ``targets`` the gate every connection of this context passes."""
    guard = Guard(scope or Scope(), targets)
    token = _ACTIVE.set(guard)
    try:
        yield guard
    finally:
        with contextlib.suppress(ValueError):  # closed from another context (a task destroyed at exit)
            _ACTIVE.reset(token)


def admit(address: str | IPAddress) -> str:
    """The normalised address to connect to, or ScopeError: the one gate of every client.

    Inside ``guarding`` the scan's scope and targets decide; elsewhere (a client used on its own)
    the built-in refusals still hold."""
    return (_ACTIVE.get() or _BUILTIN).admit(address)
