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


def _servers_used(item: pytest.Item) -> list[S.Server]:
    names = set(getattr(item, "fixturenames", ()))
    if "real_servers" in names:
        names.update(FAMILIES)
    return [s for fam in FAMILIES if fam in names for s in STARTED.get(fam, ())]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    if report.failed:
        for server in _servers_used(item):
            report.sections.append((f"server log {server.name}", server.log_tail()))
    return report
