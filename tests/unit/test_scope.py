import pytest

from camaudit.scope import Scope, ScopeError, TargetError, parse_targets


def addrs(items):
    return [a for a, _ in parse_targets(items)]


def test_addresses_cidr_ranges_and_dedup():
    assert addrs(["127.20.0.1"]) == ["127.20.0.1"]
    assert len(addrs(["127.20.0.0/30"])) == 4
    assert addrs(["127.20.0.5-7"]) == ["127.20.0.5", "127.20.0.6", "127.20.0.7"]
    assert addrs(["127.20.0.254-127.20.1.1"]) == ["127.20.0.254", "127.20.0.255", "127.20.1.0", "127.20.1.1"]
    assert addrs(["127.20.0.1,127.20.0.1 127.20.0.2"]) == ["127.20.0.1", "127.20.0.2"]


def test_hostname_resolves():
    ts = parse_targets(["localhost"])
    (addr, host), = list(ts)
    assert addr.startswith("127.") or addr == "::1"
    assert host == "localhost"


def test_target_file_with_comments(tmp_path):
    f = tmp_path / "targets.txt"
    f.write_text("# cameras of building A\n127.20.0.1\n127.20.0.8/31  # NVR pair\n\n127.20.0.20-21\n")
    assert addrs([f"@{f}"]) == ["127.20.0.1", "127.20.0.8", "127.20.0.9", "127.20.0.20", "127.20.0.21"]
    assert addrs([str(f)]) == addrs([f"@{f}"])


@pytest.mark.parametrize("bad, words", [
    ("127.20.0.300", "not an address"),
    ("127.20.0.9-3", "ends before it starts"),
    ("127.20.0.1-999", "not an octet"),
    ("127.20.0.0/33", "not an address"),
    ("no-such-host.invalid", "cannot resolve"),
    ("!!", "not an address"),
])
def test_malformed_targets_are_named(bad, words):
    with pytest.raises(TargetError) as exc:
        parse_targets([bad])
    assert words in str(exc.value)


def test_bad_line_in_file_names_file_and_line(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("127.0.0.1\n127.0.0.1/99\n")
    with pytest.raises(TargetError, match=r"t.txt:2"):
        parse_targets([f"@{f}"])


def test_unreadable_and_binary_files(tmp_path):
    with pytest.raises(TargetError, match="cannot read"):
        parse_targets([f"@{tmp_path / 'missing.txt'}"])
    b = tmp_path / "b.txt"
    b.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TargetError, match="not a text file"):
        parse_targets([f"@{b}"])


def test_huge_target_refused():
    with pytest.raises(TargetError, match="more than one scan takes"):
        parse_targets(["0.0.0.0/0"])


def test_scope_guard():
    scope = Scope.parse(["127.20.0.0/24"], ["127.20.0.128/25"])
    scope.check(parse_targets(["127.20.0.0/25", "127.20.0.10-20"]))
    with pytest.raises(ScopeError, match="outside the allowed scope"):
        scope.check(parse_targets(["127.21.0.1"]))
    with pytest.raises(ScopeError, match="denied network"):
        scope.check(parse_targets(["127.20.0.200"]))
    with pytest.raises(ScopeError, match="outside"):
        Scope.parse(["127.20.0.0/24"]).check(parse_targets(["127.20.0.0/23"]))  # partly outside is outside


def test_lazy_expansion_of_large_blocks():
    ts = parse_targets(["127.0.0.0/8"])
    assert len(ts) == 1 << 24
    first = next(iter(ts))
    assert first == ("127.0.0.0", None)
