"""Which hosts get which checks, what makes a host "another kind of device", the login budget
of a whole assessment counted on the device side, and the SDP summary of a found stream."""

from __future__ import annotations

import base64

import pytest

import camaudit.checks  # noqa: F401  (registers every check)
from camaudit.checks.base import ACCOUNT_LIMIT, PHASES, REGISTRY, LoginBudget, policy_allows
from camaudit.checks.lockout import PROBE_USER as LOCKOUT_PROBE
from camaudit.checks.oracle import PROBE_USER as ORACLE_PROBE
from camaudit.engine.options import ScanOptions
from camaudit.identify import identify
from camaudit.model import DeviceKind, HostResult, Identity, Observation, redact
from camaudit.protocols import http, rtsp, sdp

from .fakes import HOST, FakeHikvision, FakeRtsp

SAFE = {cid for cid, c in REGISTRY.items() if c.meta.safe}
LOGINS = {"default-credentials", "weak-credentials", "no-login-lockout", "login-error-oracle"}


def test_every_login_check_is_unsafe_and_the_harmless_ones_are_safe():
    assert LOGINS <= set(REGISTRY) and not LOGINS & SAFE
    assert {"rtsp-anonymous", "ftp-anonymous", "onvif-anonymous", "unauthenticated-snapshot",
            "snmp-default-community", "cleartext-http", "cleartext-telnet", "cleartext-ftp",
            "tls-weak", "tls-cert-invalid", "needless-service"} <= SAFE


@pytest.mark.parametrize("policy,kind,safe,runs", [
    ("default", DeviceKind.CAMERA, False, True),
    ("default", DeviceKind.UNKNOWN, False, True),  # not identified: assessed in full
    ("default", DeviceKind.UNKNOWN, True, True),
    ("default", DeviceKind.OTHER, True, True),  # a router: the harmless checks only
    ("default", DeviceKind.OTHER, False, False),
    ("all", DeviceKind.OTHER, False, True),
    ("video", DeviceKind.UNKNOWN, True, False),  # --video-only: the old narrow scope
    ("video", DeviceKind.OTHER, True, False),
    ("video", DeviceKind.NVR, False, True),
])
def test_policy(policy, kind, safe, runs):
    assert policy_allows(policy, kind, safe) is runs


def test_policy_options_and_errors():
    assert ScanOptions().policy == "default"
    assert ScanOptions(all_hosts=True).policy == "all"
    assert ScanOptions(video_only=True).policy == "video"
    with pytest.raises(ValueError, match="contradict"):
        ScanOptions(all_hosts=True, video_only=True)
    with pytest.raises(ValueError, match="unknown assessment policy"):
        policy_allows("some", DeviceKind.UNKNOWN, True)


def _obs(protocol: str, port: int, **fields: str) -> Observation:
    return Observation(HOST, port, protocol, fields={f"{protocol}.{k}": v for k, v in fields.items()})


# What cameras embed too: none of it may make a host "another kind of device".
SERVER_SOFTWARE = [
    [_obs("http", 80, server="nginx/1.22.1", status="200", title="")],
    [_obs("http", 80, server="Apache/2.4.62 (Debian)", status="200")],
    [_obs("http", 80, server="lighttpd/1.4.69", status="401", realm="Login")],
    [_obs("http", 80, server="Boa/0.94.14rc21", status="200")],
    [_obs("http", 80, server="GoAhead-Webs", status="401")],
    [_obs("http", 80, server="thttpd/2.25b 29dec2003", status="200")],
    [_obs("ftp", 21, banner="220 (vsFTPd 3.0.3)")],
    [_obs("telnet", 23, banner="login: ")],
    [_obs("ssh", 22, banner="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")],
    [_obs("ssh", 22, banner="SSH-2.0-OpenSSH_for_Windows_8.1")],
    [_obs("http", 80, server="nginx", status="200"), _obs("ftp", 21, banner="220 (vsFTPd 3.0.3)"),
     _obs("ssh", 22, banner="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")],
]


@pytest.mark.parametrize("observations", SERVER_SOFTWARE, ids=lambda o: o[0].fields.get(
    f"{o[0].protocol}.server") or o[0].fields.get(f"{o[0].protocol}.banner"))
def test_server_software_alone_never_makes_a_host_another_kind(observations):
    ident = identify(observations)
    assert ident.kind == DeviceKind.UNKNOWN, ident
    host = HostResult(HOST, identity=ident)
    assert REGISTRY["default-credentials"].applies(host)  # assessed in full


def test_a_named_router_gets_only_the_safe_checks():
    ident = identify([_obs("http", 80, title="RouterOS router configuration page", status="200")])
    assert ident.kind == DeviceKind.OTHER
    host = HostResult(HOST, identity=ident)
    ran = {cid for cid, c in REGISTRY.items() if c.applies(host)}
    assert ran and ran <= SAFE
    host.policy = "all"
    assert REGISTRY["default-credentials"].applies(host)


async def _unnamed_host(http_port: int, rtsp_port: int) -> HostResult:
    host = HostResult(HOST, identity=Identity(kind=DeviceKind.UNKNOWN))
    host.observations += await http.probe(HOST, http_port, timeout=3)
    host.observations += await rtsp.probe(HOST, rtsp_port, timeout=3)
    return host


async def test_whole_assessment_of_an_unnamed_device_stays_within_the_login_budget(ctx):
    """Every check of every phase on a device nobody could name, whose passwords are none of the
    defaults: counted by the device, no real account gets 5 attempts on any service."""
    web = FakeHikvision({"admin": "not-a-default", "root": "nor-this"})
    cam = FakeRtsp({"/Streaming/Channels/101"}, users={"admin": "not-a-default"})
    await web.start()
    await cam.start()
    try:
        host = await _unnamed_host(web.port, cam.port)
        assert host.identity.kind == DeviceKind.UNKNOWN
        ctx.budget = LoginBudget()
        findings = []
        for phase in PHASES:
            for check in REGISTRY.values():
                if check.meta.phase == phase and not check.meta.intrusive and check.applies(host):
                    findings += await check.run(host, ctx)
    finally:
        await web.stop()
        await cam.stop()
    probes = {LOCKOUT_PROBE, ORACLE_PROBE}
    for device, service in ((web, "http"), (cam, "rtsp")):
        real = {u: n for u, n in device.attempts.items() if u not in probes}
        assert real and max(real.values()) <= ACCOUNT_LIMIT < 5, (service, dict(device.attempts))
    assert {k[3] for k in ctx.budget.attempts} - probes == ctx.budget.accounts
    assert all(n <= ACCOUNT_LIMIT for k, n in ctx.budget.attempts.items() if k[3] not in probes)
    assert not [f for f in findings if f.check_id in ("default-credentials", "weak-credentials")]
    # the lockout measurement did run, with its made-up account only
    assert web.attempts[LOCKOUT_PROBE] + cam.attempts[LOCKOUT_PROBE] > ACCOUNT_LIMIT


async def test_route_looked_up_with_the_credential_on_an_auth_first_server(ctx):
    cam = FakeRtsp({"/stream1"}, users={"admin": "admin"})  # answers 401 for any route...
    await cam.start()
    try:
        host = HostResult(HOST, identity=Identity(kind=DeviceKind.UNKNOWN))
        host.observations += await rtsp.probe(HOST, cam.port, timeout=3)
        found = await REGISTRY["default-credentials"].run(host, ctx)
    finally:
        await cam.stop()
    [f] = found
    ev = f.evidence
    assert ev["server_behaviour"] == "auth-first" and ev["password"] == redact("admin")
    assert ev["route"] == "/stream1" and ev["url"] == f"rtsp://admin:{redact('admin')}@{HOST}:{cam.port}/stream1"
    assert "admin:admin" not in str(ev)
    # admin/admin accepted on the dictionary's first route (a 404 after the credential), then the
    # route looked up with the proven credential: only the first was a login attempt
    lookups = ctx.kb.routes.for_vendor(None, 20).index("/stream1")
    assert cam.attempts == {"admin": 1 + lookups} and ev["describes_with_credential"] == lookups
    assert {k[3]: n for k, n in ctx.budget.attempts.items()} == {"admin": 1}


# H.264 SPSs written by GStreamer's x264enc: 1920x1080 High profile (cropped from 1088 lines),
# 1280x720 and 320x240 Constrained Baseline (what the integration servers send).
SPS_1080P_HIGH = "Z2QAKKzZQHgCJ+XAWoCAgKAAAAMAIAAAB5HjBjLA"
SPS_720P = "Z0LAH9oBQBbsBagICAoAAAMAAgAAAwApHjBlQA=="
SPS_240P = "Z0LADNoFB+wFqDAwNSgAAAMACAAAAwCkeKFV"
SDP = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=stream\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
       f"a=fmtp:96 packetization-mode=1;sprop-parameter-sets={SPS_720P},aOvjyyLA\r\n"
       "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")


@pytest.mark.parametrize("sps,size", [(SPS_1080P_HIGH, (1920, 1080)), (SPS_720P, (1280, 720)),
                                      (SPS_240P, (320, 240))])
def test_h264_size_from_sps(sps, size):
    assert sdp.h264_size(sps) == size


def test_sdp_summary_reads_codec_and_resolution():
    media = sdp.summary(SDP)
    assert media == [
        {"media": "video", "transport": "RTP/AVP", "codec": "H264", "clock_rate": 90000,
         "width": 1280, "height": 720},
        {"media": "audio", "transport": "RTP/AVP", "codec": "PCMA", "clock_rate": 8000}]
    assert sdp.describe_text(media) == "video H264 1280x720, audio PCMA"
    framed = "m=video 0 RTP/AVP 96\na=rtpmap:96 H265/90000\na=framesize:96 1920-1080\n"
    assert sdp.summary(framed)[0] == {"media": "video", "transport": "RTP/AVP", "codec": "H265",
                                           "clock_rate": 90000, "width": 1920, "height": 1080}


@pytest.mark.parametrize("value", ["", "!!!", base64.b64encode(b"\x67").decode(),
                                   base64.b64encode(b"\x67" + b"\xff" * 40).decode(),
                                   base64.b64encode(b"\x68\x00\x00").decode()])
def test_hostile_sps_is_not_reported(value):
    assert sdp.h264_size(value) is None
    assert "width" not in sdp.summary(f"m=video 0 RTP/AVP 96\na=fmtp:96 sprop-parameter-sets={value}\n")[0]


def test_cli_refuses_all_hosts_with_video_only(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "camaudit.cli.main", "scan", "127.70.0.1", "--all-hosts",
                        "--video-only", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "contradict" in r.stderr


async def test_cleartext_http_ignores_a_catch_all_xml_answer(ctx):
    """A hostile device answering every path with the same SOAP (whose text says "passwd") is
    not an administration page; a real login page over HTTP still is."""
    from camaudit.checks.cleartext import CleartextHttp

    soap = '<?xml version="1.0"?><!ENTITY xxe SYSTEM "file:///etc/passwd"><env:Envelope/>'
    paths = ("/", "/ISAPI/System/deviceInfo", "/RPC2_Login", "/onvif/device_service")
    host = HostResult(HOST, identity=Identity(kind=DeviceKind.UNKNOWN), observations=[
        _obs("http", 80, path=p, status="200", body=soap, content_type="application/soap+xml")
        for p in paths])
    assert await CleartextHttp().run(host, ctx) == []
    host.observations = [_obs("http", 80, path="/", status="200", title="Login",
                              body="<form>User name Password</form>", content_type="text/html")]
    [f] = await CleartextHttp().run(host, ctx)
    assert f.evidence["reason"].startswith("login or administration page")
