"""The scope guard decides on the address a connection reaches, whatever its spelling
(issue 7 items 1, 6, 8 and 12): IPv4-mapped/compatible IPv6, NAT64 and 6to4 embeddings, the C
library's numeric spellings, resolved host names; non-canonical CIDRs are refused; target files
are read by bytes, never past the cap.  Addresses: 127.72.0.0/16 (nothing is contacted)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from camaudit.scope import (
    MAX_FILE_BYTES,
    Scope,
    ScopeError,
    TargetError,
    admit,
    guarding,
    looks_like_hostname,
    parse_address,
    parse_targets,
)


def addrs(items, **kw):
    return [a for a, _ in parse_targets(items, **kw)]


# ------------------------------------------------------------------ item 1: one address, one decision


@pytest.mark.parametrize("spelling", [
    "::ffff:127.72.1.5", "::ffff:7f48:105", "[::ffff:127.72.1.5]", "::127.72.1.5",
    "0x7f.0x48.1.5", "2135425285", "0177.0110.1.5", "127.72.261",
])
def test_every_spelling_is_the_ipv4_address(spelling):
    assert str(parse_address(spelling)) == "127.72.1.5"
    assert addrs([spelling]) == ["127.72.1.5"]


@pytest.mark.parametrize("target", [
    "::ffff:127.72.1.5", "::ffff:127.72.1.0/120", "::127.72.1.5", "0x7f.0x48.1.5",
    "::ffff:127.72.1.4-::ffff:127.72.1.6",
    "64:ff9b::127.72.1.5",  # NAT64 (RFC 6052): a translator reaches 127.72.1.5
    "2002:7f48:105::1",  # 6to4 (RFC 3056) of 127.72.1.5
    "2001:0:7f48:105::1",  # Teredo (RFC 4380) through the server 127.72.1.5
    "2001:0:4136:e378:8000:63bf:80b7:fefa",  # Teredo of the client 127.72.1.5 (stored inverted)
    "2001:0:4136:e378:8000:63bf:80b7:fe00/120",  # Teredo clients 127.72.1.0/24 of a server
])
def test_mapped_and_embedded_forms_cannot_escape_a_deny_rule(target):
    scope = Scope.parse([], ["127.72.0.0/16"])
    with pytest.raises(ScopeError, match="denied network 127.72.0.0/16"):
        scope.check(parse_targets([target]))
    with pytest.raises(ScopeError):
        scope.admit(target.split("-")[0].split("/")[0])


@pytest.mark.parametrize("target", [
    "::ffff:224.0.0.251", "::ffff:0.0.0.1", "::ffff:255.255.255.255", "::224.0.0.1", "0xe0.1",
    "64:ff9b::224.0.0.1", "::ffff:0:0/104",
])
def test_builtin_refusals_hold_in_every_spelling_even_without_a_scope(target):
    with pytest.raises(ScopeError, match="denied network"):
        Scope().check(parse_targets([target]))


def test_allow_rules_see_the_normalised_address_and_rules_may_be_written_mapped():
    Scope.parse(["127.72.1.0/24"]).check(parse_targets(["::ffff:127.72.1.9"]))
    with pytest.raises(ScopeError, match="outside the allowed scope"):
        Scope.parse(["127.72.1.0/24"]).check(parse_targets(["::ffff:127.72.2.9"]))
    with pytest.raises(ScopeError, match="denied"):  # a deny rule written in the mapped form
        Scope.parse([], ["::ffff:127.72.0.0/112"]).check(parse_targets(["127.72.3.3"]))
    with pytest.raises(ScopeError, match="denied"):  # a bare address is its /32, any spelling
        Scope.parse([], ["0x7f.0x48.3.3"]).check(parse_targets(["::ffff:127.72.3.3"]))


def test_the_runtime_gate_admits_only_targets_inside_the_scope():
    targets = parse_targets(["127.72.5.0/30", "127.72.5.9"])
    scope = Scope.parse(["127.72.0.0/16"], ["127.72.5.2/32"])
    assert admit("::ffff:127.72.5.1") == "127.72.5.1"  # no guard active: built-in refusals only
    with pytest.raises(ScopeError):
        admit("::ffff:224.0.0.1")
    with guarding(scope, targets):
        assert admit("::ffff:127.72.5.1") == "127.72.5.1"
        assert admit("0x7f.0x48.5.9") == "127.72.5.9"
        for refused, why in [("127.72.5.2", "denied"), ("::ffff:127.72.5.2", "denied"),
                             ("127.72.5.7", "not one of the scan's targets"),
                             ("127.73.0.1", "outside the allowed scope"),
                             ("camera.example", "not an address"), ("", "not an address")]:
            with pytest.raises(ScopeError, match=why):
                admit(refused)
    assert admit("127.72.5.7") == "127.72.5.7"  # the guard ends with its context


# ------------------------------------------------------------------ item 12: CIDRs and host names


@pytest.mark.parametrize("written", ["127.88.2.0/22", "::ffff:127.88.2.0/118", "fd00::1/64"])
def test_non_canonical_cidr_is_refused_with_the_network_it_would_mean(written):
    with pytest.raises(TargetError, match="host bits set"):
        parse_targets([written])
    with pytest.raises(TargetError, match="host bits set"):
        Scope.parse([written])


def test_only_what_looks_like_a_host_name_goes_to_dns(monkeypatch):
    asked: list[str] = []

    def fake_getaddrinfo(host, *a, **kw):
        asked.append(host)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::ffff:127.72.9.9", 0, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    for word in ("Tầng-1", "camera_1", "0x7f.1", "127.72.1", "a" * 64 + ".example", "x." * 130 + "y",
                 "-cam", "cam-", "192.0.2.1.5", "nvr..local"):
        with pytest.raises(TargetError) if word not in ("0x7f.1", "127.72.1") else _noop():
            parse_targets([word])
    assert asked == []
    assert not looks_like_hostname("1234") and looks_like_hostname("cam-01.site.example")
    # what a name resolves to is normalised, then judged by the scope like any address
    ts = parse_targets(["cam-01.site.example"])
    assert list(ts) == [("127.72.9.9", "cam-01.site.example")] and asked == ["cam-01.site.example"]
    with pytest.raises(ScopeError, match="denied"):
        Scope.parse([], ["127.72.9.0/24"]).check(ts)
    with pytest.raises(TargetError, match="--no-resolve"):
        parse_targets(["cam-01.site.example"], resolve=False)
    assert len(asked) == 1


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------ items 6 and 8: bounded input


def _parse_in_child(target: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """parse_targets in a child under a 1 GiB address-space limit: an unbounded read fails
    there (MemoryError or a kill), never on the machine."""
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from camaudit.scope import TargetError, parse_targets\n"
            "try:\n    parse_targets([sys.argv[1]])\nexcept TargetError as e:\n"
            "    print('TargetError:', e); sys.exit(2)\n")
    return subprocess.run([sys.executable, "-c", code, target], capture_output=True, text=True,
                          timeout=timeout)


def test_dev_zero_is_read_by_bytes_up_to_the_cap():
    r = _parse_in_child("@/dev/zero")
    assert r.returncode == 2, r.stderr[-500:]
    assert f"larger than {MAX_FILE_BYTES} bytes" in r.stdout


def test_fifo_is_read_up_to_the_cap_and_an_idle_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "targets.fifo"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer():
        try:
            with open(fifo, "wb") as f:
                line = b"127.72.0.1\n" * 100_000
                while not stop.is_set():
                    f.write(line)
        except (BrokenPipeError, OSError):
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        r = _parse_in_child(f"@{fifo}")
    finally:
        stop.set()
        with open(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK), "rb", closefd=True):
            pass  # unblocks a writer still waiting to open
        t.join(10)
    assert r.returncode == 2 and "larger than" in r.stdout, (r.stdout, r.stderr[-500:])
    r = _parse_in_child(f"@{fifo}", timeout=20)  # no writer at all: an empty file, at once
    assert r.returncode == 2 and "no targets given" in r.stdout


@pytest.mark.parametrize("target, words", [
    ("a" * 300, "not an address"),  # ENAMETOOLONG when asked whether it is a file
    ("/tmp/" + "d" * 5000, "characters"),
    ("fd00::/64", "more than"),  # OverflowError from len() before
    ("::/0", "more than"),
    ("fd00::/66", "more than"),
])
def test_overlong_targets_and_huge_ipv6_blocks_are_clear_errors(target, words):
    with pytest.raises(TargetError, match=words):
        parse_targets([target])


def test_ipv6_and_ipv4_addresses_with_the_same_number_are_both_kept():
    assert addrs(["::1", "0.0.0.1"]) == ["::1", "0.0.0.1"]
