"""Session fixtures: real servers from Debian's packages on 127.30.0.0/24.

Each fixture starts one family (a weak and a strong instance, RTSP has three) and yields
``{name: Server}``; the servers are stopped and their folder removed at the end of the session.
When a test that used them fails, their logs are attached to the report.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import servers as S

# fixture name -> the servers it started (read by the failure hook below)
STARTED: dict[str, list[S.Server]] = {}


def _family(name: str, needs: tuple[S.Need, ...],
            build: Callable[[Path], list[S.Server]]) -> Iterator[dict[str, S.Server]]:
    S.ensure(S.NEED_ROOT, *needs)
    workdir = S.make_workdir(name)
    family = build(workdir)
    try:
        S.start_all(family)
        STARTED[name] = family
        yield {s.name: s for s in family}
    finally:
        S.stop_all(family)
        STARTED.pop(name, None)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def rtsp_servers() -> Iterator[dict[str, S.Server]]:
    yield from _family("rtsp_servers", (S.NEED_GST,), S.rtsp_servers)


@pytest.fixture(scope="session")
def telnet_servers() -> Iterator[dict[str, S.Server]]:
    yield from _family("telnet_servers", (S.NEED_TELNETD, S.NEED_UNSHARE, S.NEED_OPENSSL),
                       S.telnet_servers)


@pytest.fixture(scope="session")
def http_servers() -> Iterator[dict[str, S.Server]]:
    yield from _family("http_servers", (S.NEED_LIGHTTPD,), S.http_servers)


@pytest.fixture(scope="session")
def ftp_servers() -> Iterator[dict[str, S.Server]]:
    yield from _family("ftp_servers", (S.NEED_VSFTPD, S.NEED_UNSHARE, S.NEED_OPENSSL),
                       S.ftp_servers)


@pytest.fixture(scope="session")
def snmp_servers() -> Iterator[dict[str, S.Server]]:
    yield from _family("snmp_servers", (S.NEED_SNMPD,), S.snmp_servers)


FAMILIES = ("rtsp_servers", "telnet_servers", "http_servers", "ftp_servers", "snmp_servers")


@pytest.fixture(scope="session")
def real_servers(request: pytest.FixtureRequest) -> dict[str, S.Server]:
    """Every family that can run here (a family that is skipped is left out)."""
    found: dict[str, S.Server] = {}
    for fixture in FAMILIES:
        try:
            found.update(request.getfixturevalue(fixture))
        except pytest.skip.Exception:
            continue
    if not found:
        pytest.skip("integration: no real server can run on this machine")
    return found


@pytest.fixture(scope="session")
def ffprobe() -> str:
    S.ensure(S.NEED_FFPROBE)
    path = shutil.which("ffprobe")
    assert path is not None
    return path


# The second set (127.31.0.0/24): set up as devices in the wild are, not as the lab is.
WILD_FAMILIES = {
    "wild_rtsp": ((S.NEED_GST,), S.wild_rtsp_servers),
    "wild_telnet": ((S.NEED_TELNETD, S.NEED_UNSHARE, S.NEED_OPENSSL), S.wild_telnet_servers),
    "wild_http": ((S.NEED_LIGHTTPD_TLS, S.NEED_OPENSSL), S.wild_http_servers),
    "wild_ftp": ((S.NEED_VSFTPD, S.NEED_UNSHARE, S.NEED_OPENSSL), S.wild_ftp_servers),
    "wild_snmp": ((S.NEED_SNMPD,), S.wild_snmp_servers),
}


@pytest.fixture(scope="session")
def wild_servers() -> Iterator[dict[str, S.Server]]:
    """Every family of the second set that can run here, started at once; a family whose
    program is missing is left out on a user's machine (installed, or a failure, in CI)."""
    found: dict[str, S.Server] = {}
    running = []
    try:
        for name, (needs, build) in WILD_FAMILIES.items():
            try:
                gen = _family(name, needs, build)
                found.update(next(gen))
            except pytest.skip.Exception:
                continue
            running.append(gen)
        if not found:
            pytest.skip("integration: no real server of the second set can run on this machine")
        yield found
    finally:
        for gen in running:
            gen.close()  # stops the family's servers and removes its folder


def _servers_used(item: pytest.Item) -> list[S.Server]:
    names = set(getattr(item, "fixturenames", ()))
    if "real_servers" in names:
        names.update(FAMILIES)
    if "wild_servers" in names:
        names.update(WILD_FAMILIES)
    return [s for fam in (*FAMILIES, *WILD_FAMILIES) if fam in names for s in STARTED.get(fam, ())]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    if report.failed:
        for server in _servers_used(item):
            report.sections.append((f"server log {server.name}", server.log_tail()))
    return report
