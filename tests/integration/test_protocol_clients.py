"""The project's protocol clients (src/camaudit/protocols) against the real servers: each
client must read the real server's answers the way docs/CONTRACTS.md says."""

from __future__ import annotations

import pytest

from camaudit.model import AuthOutcome
from camaudit.protocols import ftp, http, onvif, rtsp, snmp, telnet

from .servers import HTTP_REALM, RTSP_MOUNT, SNMP_SYSDESCR, Server

pytestmark = pytest.mark.integration

TIMEOUT = 8.0  # busybox login and PAM wait ~3 s before saying no


def _other(password: str, *candidates: str) -> str:
    return next(c for c in candidates if c != password)


# --------------------------------------------------------------------------- RTSP

async def test_rtsp_describe_open_mount_gives_sdp(rtsp_servers: dict[str, Server]) -> None:
    server = rtsp_servers["rtsp-open"]
    result, sdp = await rtsp.describe(server.address, server.port, RTSP_MOUNT, timeout=TIMEOUT)
    assert result.outcome is AuthOutcome.NO_AUTH, result
    assert sdp.startswith("v=0") and "m=video" in sdp and "H264/90000" in sdp, sdp


@pytest.mark.parametrize("name", ["rtsp-weak", "rtsp-strong"])
async def test_rtsp_digest_login(rtsp_servers: dict[str, Server], name: str) -> None:
    server = rtsp_servers[name]
    assert server.username and server.password
    anonymous, sdp = await rtsp.describe(server.address, server.port, RTSP_MOUNT,
                                         timeout=TIMEOUT)
    assert anonymous.outcome is AuthOutcome.FAILURE and anonymous.status == 401, anonymous
    assert sdp == ""
    good, sdp = await rtsp.describe(server.address, server.port, RTSP_MOUNT,
                                    username=server.username, password=server.password,
                                    timeout=TIMEOUT)
    assert good.outcome is AuthOutcome.SUCCESS, good
    assert "m=video" in sdp
    bad = await rtsp.try_login(server.address, server.port, server.username,
                               _other(server.password, "admin", "12345"), path=RTSP_MOUNT,
                               timeout=TIMEOUT)
    assert bad.outcome is AuthOutcome.FAILURE and bad.status == 401, bad


async def test_rtsp_probe_reads_gstreamer(rtsp_servers: dict[str, Server]) -> None:
    server = rtsp_servers["rtsp-weak"]
    observations = await rtsp.probe(server.address, server.port, timeout=TIMEOUT)
    assert observations and not any(o.error for o in observations), observations
    options = observations[0]
    assert options.get("rtsp.status") == "200", options
    assert "DESCRIBE" in (options.get("rtsp.public") or ""), options
    assert options.get("rtsp.server") == "GStreamer RTSP server", options


# --------------------------------------------------------------------------- HTTP

@pytest.mark.parametrize("name", ["http-weak", "http-strong"])
async def test_http_probe_sees_digest_challenge(http_servers: dict[str, Server],
                                                name: str) -> None:
    server = http_servers[name]
    observations = await http.probe(server.address, server.port, timeout=TIMEOUT)
    root = [o for o in observations if o.get("http.path") == "/"]
    assert root and root[0].error is None, observations
    assert root[0].get("http.status") == "401"
    assert root[0].get("http.auth_scheme") == "digest"
    assert root[0].get("http.realm") == HTTP_REALM
    assert (root[0].get("http.server") or "").startswith("lighttpd/")


@pytest.mark.parametrize("name", ["http-weak", "http-strong"])
async def test_http_digest_login(http_servers: dict[str, Server], name: str) -> None:
    server = http_servers[name]
    assert server.username and server.password
    good = await http.try_login(server.address, server.port, server.username, server.password,
                                path="/", timeout=TIMEOUT)
    assert good.outcome is AuthOutcome.SUCCESS, good
    bad = await http.try_login(server.address, server.port, server.username,
                               _other(server.password, "12345", "admin"), path="/",
                               timeout=TIMEOUT)
    assert bad.outcome is AuthOutcome.FAILURE and bad.status == 401, bad


async def test_onvif_probe_of_a_plain_web_server_is_no_attack(http_servers: dict[str, Server]
                                                              ) -> None:
    """lighttpd answers the ONVIF POST with its stock 401 page: XHTML with a DOCTYPE. That is
    an ordinary web server saying no, not an XML attack."""
    server = http_servers["http-weak"]
    observations = await onvif.probe(server.address, server.port, timeout=TIMEOUT)
    assert not [o for o in observations if o.error == "xml-attack"], observations


# --------------------------------------------------------------------------- Telnet

@pytest.mark.parametrize("name", ["telnet-weak", "telnet-strong"])
async def test_telnet_login(telnet_servers: dict[str, Server], name: str) -> None:
    server = telnet_servers[name]
    assert server.username and server.password
    obs = await telnet.probe(server.address, server.port, timeout=TIMEOUT)
    assert obs.error is None, obs
    assert "login" in (obs.get("telnet.prompt") or "").lower(), obs
    good = await telnet.try_login(server.address, server.port, server.username,
                                  server.password, timeout=TIMEOUT)
    assert good.outcome is AuthOutcome.SUCCESS, good
    bad = await telnet.try_login(server.address, server.port, server.username,
                                 _other(server.password, "xc3511", "vizxv"), timeout=TIMEOUT)
    assert bad.outcome is AuthOutcome.FAILURE, bad


# --------------------------------------------------------------------------- FTP

async def test_ftp_anonymous(ftp_servers: dict[str, Server]) -> None:
    anon, strong = ftp_servers["ftp-anon"], ftp_servers["ftp-strong"]
    obs = await ftp.probe(anon.address, anon.port, timeout=TIMEOUT)
    assert obs.error is None and "vsFTPd" in (obs.get("ftp.banner") or ""), obs
    yes = await ftp.try_login(anon.address, anon.port, "anonymous", "guest@example.com",
                              timeout=TIMEOUT)
    assert yes.outcome is AuthOutcome.SUCCESS, yes
    no = await ftp.try_login(strong.address, strong.port, "anonymous", "guest@example.com",
                             timeout=TIMEOUT)
    assert no.outcome is AuthOutcome.FAILURE, no


async def test_ftp_login_through_pam(ftp_servers: dict[str, Server]) -> None:
    server = ftp_servers["ftp-strong"]
    assert server.username and server.password
    good = await ftp.try_login(server.address, server.port, server.username, server.password,
                               timeout=TIMEOUT)
    assert good.outcome is AuthOutcome.SUCCESS, good
    bad = await ftp.try_login(server.address, server.port, "admin", "admin", timeout=TIMEOUT)
    assert bad.outcome is AuthOutcome.FAILURE, bad


# --------------------------------------------------------------------------- SNMP

async def test_snmp_public_community(snmp_servers: dict[str, Server]) -> None:
    server = snmp_servers["snmp-public"]
    obs = await snmp.probe(server.address, port=server.port, timeout=TIMEOUT)
    assert obs is not None and obs.error is None, obs
    assert obs.get("snmp.community") == "public"
    assert obs.get("snmp.sysdescr") == SNMP_SYSDESCR
    assert obs.get("snmp.sysobjectid", "").lstrip(".") == "1.3.6.1.4.1.39165.1.1"
    assert obs.get("snmp.sysname") == "IPC"


async def test_snmp_unknown_community_is_silence(snmp_servers: dict[str, Server]) -> None:
    server = snmp_servers["snmp-strong"]
    assert server.password
    assert await snmp.probe(server.address, port=server.port, timeout=2.0) is None
    obs = await snmp.probe(server.address, port=server.port, communities=(server.password,),
                           timeout=TIMEOUT)
    assert obs is not None and obs.get("snmp.community") == server.password, obs
