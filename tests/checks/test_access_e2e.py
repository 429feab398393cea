"""default-credentials, weak-credentials, rtsp-anonymous and no-login-lockout end to end:
real protocol clients against fake Hikvision web and RTSP services on loopback."""

from __future__ import annotations

import pytest

from camaudit.checks.anonymous import RtspAnonymous
from camaudit.checks.credentials import DefaultCredentials, WeakCredentials
from camaudit.checks.lockout import PROBE_USER, NoLoginLockout
from camaudit.model import DeviceKind, HostResult, Identity
from camaudit.protocols import http, rtsp

from .fakes import HOST, FakeHikvision, FakeRtsp


async def _host(vendor: str | None, http_port: int | None = None,
                rtsp_port: int | None = None) -> HostResult:
    host = HostResult(HOST, identity=Identity(vendor=vendor, kind=DeviceKind.CAMERA))
    if http_port:
        host.observations += await http.probe(HOST, http_port, timeout=3)
    if rtsp_port:
        host.observations += await rtsp.probe(HOST, rtsp_port, timeout=3)
    return host


@pytest.fixture
async def hik_default():
    dev = FakeHikvision({"admin": "12345"})
    await dev.start()
    yield dev
    await dev.stop()


@pytest.fixture
async def hik_strong():
    dev = FakeHikvision({"admin": "S3cure-Pa55-word!"})
    await dev.start()
    yield dev
    await dev.stop()


async def test_default_credential_found_on_hikvision_web_api(hik_default, ctx):
    host = await _host("Hikvision", http_port=hik_default.port)
    findings = await DefaultCredentials().run(host, ctx)
    assert [(f.check_id, f.protocol, f.port) for f in findings] == [
        ("default-credentials", "http", hik_default.port)]
    ev = findings[0].evidence
    assert ev["username"] == "admin" and ev["password"] == "1***" and "12345" not in str(ev)
    assert ev["path"] == "/ISAPI" and ev["listed_under"] == "credentials.yaml vendors.hikvision"
    assert [(c.protocol, c.username, c.password, c.is_vendor_default) for c in host.credentials] \
        == [("http", "admin", "12345", True)]
    assert hik_default.attempts == {"admin": 1}  # stopped at the first success


async def test_strong_password_gives_no_finding_and_respects_budget(hik_strong, ctx):
    host = await _host("Hikvision", http_port=hik_strong.port)
    assert await DefaultCredentials().run(host, ctx) == []
    assert await WeakCredentials().run(host, ctx) == []
    assert host.credentials == []
    # vendor default (1) + two generic passwords for the one account "admin"
    assert hik_strong.attempts == {"admin": 3}
    assert ctx.budget.total(HOST) == 3
    assert all(n <= WeakCredentials.meta.login_budget for n in ctx.budget.attempts.values())


async def test_weak_credential_found_and_reported_as_weak(ctx):
    dev = FakeHikvision({"admin": "admin123"})  # the first generic weak password
    await dev.start()
    try:
        host = await _host("Hikvision", http_port=dev.port)
        assert await DefaultCredentials().run(host, ctx) == []
        findings = await WeakCredentials().run(host, ctx)
    finally:
        await dev.stop()
    assert [(f.check_id, f.severity.value) for f in findings] == [("weak-credentials", "high")]
    assert findings[0].evidence["password"] == "ad***"  # 'admin123': two characters of eight
    assert host.credentials[0].is_vendor_default is False


async def test_unknown_vendor_tries_top_defaults_across_vendors_within_budget(ctx):
    dev = FakeHikvision({"admin": "not-a-default"})
    await dev.start()
    try:
        host = await _host(None, http_port=dev.port)
        await DefaultCredentials().run(host, ctx)
    finally:
        await dev.stop()
    # generic HTTP auth on the path that answered 401; per-account cap of 4 respected
    assert sum(dev.attempts.values()) == 4
    assert max(dev.attempts.values()) <= DefaultCredentials.meta.login_budget


async def test_default_credentials_stop_at_first_lockout_sign(ctx):
    dev = FakeHikvision({"admin": "x", "888888": "y"}, lock_after=1)
    await dev.start()
    try:
        host = await _host("Hikvision", http_port=dev.port)
        assert await DefaultCredentials().run(host, ctx) == []
        assert await WeakCredentials().run(host, ctx) == []
    finally:
        await dev.stop()
    assert sum(dev.attempts.values()) == 1
    assert ctx.budget.is_locked(HOST, dev.port, "http")
    assert any("lockout" in e for e in host.errors)


async def test_rtsp_route_found_then_default_credential(ctx):
    dev = FakeRtsp({"/Streaming/Channels/101"}, users={"admin": "12345"})
    await dev.start()
    try:
        host = await _host("Hikvision", rtsp_port=dev.port)
        findings = await DefaultCredentials().run(host, ctx)
        anon = await RtspAnonymous().run(host, ctx)
    finally:
        await dev.stop()
    assert [(f.protocol, f.evidence["path"]) for f in findings] == [
        ("rtsp", "/Streaming/Channels/101")]
    assert dev.attempts == {"admin": 1}
    assert anon == []  # the stream needs a credential


async def test_rtsp_anonymous_stream_found_on_generic_route(ctx):
    dev = FakeRtsp({"/live/ch0"})
    await dev.start()
    try:
        host = await _host(None, rtsp_port=dev.port)
        findings = await RtspAnonymous().run(host, ctx)
        creds = await DefaultCredentials().run(host, ctx)
    finally:
        await dev.stop()
    assert len(findings) == 1
    ev = findings[0].evidence
    assert ev["route"] == "/live/ch0" and ev["media"][0].startswith("m=video")
    assert creds == [] and dev.attempts == {}  # nothing to log in to


async def test_rtsp_anonymous_bounded_when_nothing_served(ctx):
    dev = FakeRtsp(set())
    await dev.start()
    try:
        host = await _host("Dahua", rtsp_port=dev.port)
        before = dev.describes
        assert await RtspAnonymous().run(host, ctx) == []
    finally:
        await dev.stop()
    assert dev.describes - before == 8


async def test_no_lockout_finding_after_exactly_the_budget(hik_strong, ctx):
    host = await _host("Hikvision", http_port=hik_strong.port)
    findings = await NoLoginLockout().run(host, ctx)
    assert len(findings) == 1
    ev = findings[0].evidence
    assert ev["attempts"] == 6 and ev["username"] == PROBE_USER and ev["window_seconds"] < 30
    assert hik_strong.attempts == {PROBE_USER: 6}  # never the real account
    assert await NoLoginLockout().run(host, ctx) == []  # budget spent: nothing more is sent
    assert hik_strong.attempts == {PROBE_USER: 6}


async def test_lockout_seen_gives_no_finding_and_stops(ctx):
    dev = FakeHikvision({"admin": "x"}, lock_after=3)
    await dev.start()
    try:
        host = await _host("Hikvision", http_port=dev.port)
        assert await NoLoginLockout().run(host, ctx) == []
    finally:
        await dev.stop()
    assert dev.attempts == {PROBE_USER: 3}  # the 3rd failure's answer says locked: stop
    assert ctx.budget.is_locked(HOST, dev.port, "http")
