"""The real servers are real: each one is checked with an independent client (ffprobe,
the standard library, net-snmp) before the scanner is judged against it."""

from __future__ import annotations

import ftplib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .servers import HTTP_REALM, RTSP_MOUNT, SNMP_SYSDESCR, Server

pytestmark = pytest.mark.integration


# --------------------------------------------------------------------------- RTSP

def _ffprobe(ffprobe: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ffprobe, "-v", "error", "-rtsp_transport", "tcp", "-timeout", "5000000",
         "-show_streams", "-select_streams", "v", "-of", "json", url],
        capture_output=True, text=True, timeout=20)


def _rtsp_url(server: Server, username: str | None = None, password: str | None = None) -> str:
    cred = f"{username}:{password}@" if username is not None else ""
    return f"rtsp://{cred}{server.address}:{server.port}{RTSP_MOUNT}"


def _describe(server: Server) -> str:
    """One bare DESCRIBE, the answer's head (bounded)."""
    with socket.create_connection((server.address, server.port), timeout=5) as sock:
        sock.sendall(f"DESCRIBE rtsp://{server.address}:{server.port}{RTSP_MOUNT} RTSP/1.0\r\n"
                     "CSeq: 1\r\nAccept: application/sdp\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode("latin-1")


def _video_stream(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    streams = json.loads(result.stdout)["streams"]
    assert streams, "no video stream"
    return streams[0]


def test_rtsp_open_mount_streams_h264(rtsp_servers: dict[str, Server], ffprobe: str) -> None:
    stream = _video_stream(_ffprobe(ffprobe, _rtsp_url(rtsp_servers["rtsp-open"])))
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (320, 240)


@pytest.mark.parametrize("name", ["rtsp-weak", "rtsp-strong"])
def test_rtsp_digest_mount_refuses_without_credentials(rtsp_servers: dict[str, Server],
                                                       ffprobe: str, name: str) -> None:
    server = rtsp_servers[name]
    head = _describe(server)
    assert head.startswith("RTSP/1.0 401"), head
    assert f'WWW-Authenticate: Digest realm="{HTTP_REALM}"' in head, head
    result = _ffprobe(ffprobe, _rtsp_url(server))
    assert result.returncode != 0 and "401" in result.stderr, result.stderr


@pytest.mark.parametrize("name", ["rtsp-weak", "rtsp-strong"])
def test_rtsp_digest_mount_plays_with_its_credential_only(rtsp_servers: dict[str, Server],
                                                          ffprobe: str, name: str) -> None:
    server = rtsp_servers[name]
    assert server.username and server.password
    stream = _video_stream(_ffprobe(ffprobe, _rtsp_url(server, server.username,
                                                       server.password)))
    assert stream["codec_name"] == "h264"
    wrong = "admin" if server.password != "admin" else "12345"
    result = _ffprobe(ffprobe, _rtsp_url(server, server.username, wrong))
    assert result.returncode != 0 and "401" in result.stderr, result.stderr


# --------------------------------------------------------------------------- Telnet

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240


class _Telnet:
    """Just enough of RFC 854 to log in: refuse every option, strip IAC sequences."""

    def __init__(self, address: str, port: int) -> None:
        self.sock = socket.create_connection((address, port), timeout=5)
        self.pending = b""

    def close(self) -> None:
        self.sock.close()

    def _clean(self, data: bytes) -> bytes:
        out = bytearray()
        data, self.pending = self.pending + data, b""
        i = 0
        while i < len(data):
            if data[i] != IAC:
                out.append(data[i])
                i += 1
                continue
            if i + 1 >= len(data) or (data[i + 1] in (DO, DONT, WILL, WONT) and i + 2 >= len(data)):
                self.pending = data[i:]
                break
            cmd = data[i + 1]
            if cmd in (DO, DONT, WILL, WONT):
                self.sock.sendall(bytes([IAC, WONT if cmd in (DO, DONT) else DONT, data[i + 2]]))
                i += 3
            elif cmd == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end < 0:
                    self.pending = data[i:]
                    break
                i = end + 2
            else:
                i += 2
        return bytes(out)

    def expect(self, markers: tuple[bytes, ...], timeout: float = 8.0) -> bytes:
        seen = b""
        deadline = time.monotonic() + timeout
        while not any(m in seen for m in markers):
            left = deadline - time.monotonic()
            if left <= 0 or len(seen) > 65536:
                raise AssertionError(f"none of {markers} in {seen!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"closed; none of {markers} in {seen!r}")
            seen += self._clean(chunk)
        return seen

    def send_line(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")


def _telnet_login(server: Server, username: str, password: str) -> bytes:
    """Log in; the text answered after the password."""
    tn = _Telnet(server.address, server.port)
    try:
        tn.expect((b"login: ",))
        tn.send_line(username)
        tn.expect((b"assword: ",))
        tn.send_line(password)
        return tn.expect((b"$ ", b"# ", b"incorrect"))
    finally:
        tn.close()


@pytest.mark.parametrize("name", ["telnet-weak", "telnet-strong"])
def test_telnet_login_accepts_its_credential_only(telnet_servers: dict[str, Server],
                                                  name: str) -> None:
    server = telnet_servers[name]
    assert server.username and server.password
    answer = _telnet_login(server, server.username, server.password)
    assert b"BusyBox" in answer and b"\n$ " in answer, answer  # ash prompt (then ESC[6n)
    wrong = "xc3511" if server.password != "xc3511" else "vizxv"
    assert b"Login incorrect" in _telnet_login(server, server.username, wrong)


# --------------------------------------------------------------------------- HTTP

def _http_get(server: Server, username: str | None = None, password: str | None = None
              ) -> tuple[int, dict[str, str]]:
    url = f"http://{server.address}:{server.port}/"
    handlers = []
    if username is not None and password is not None:
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, url, username, password)
        handlers.append(urllib.request.HTTPDigestAuthHandler(mgr))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=5) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


@pytest.mark.parametrize("name", ["http-weak", "http-strong"])
def test_http_digest_accepts_its_credential_only(http_servers: dict[str, Server],
                                                 name: str) -> None:
    server = http_servers[name]
    assert server.username and server.password
    status, headers = _http_get(server)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith(f'Digest realm="{HTTP_REALM}"')
    assert headers["Server"].startswith("lighttpd/")
    assert _http_get(server, server.username, server.password)[0] == 200
    wrong = "12345" if server.password != "12345" else "admin"
    assert _http_get(server, server.username, wrong)[0] == 401


# --------------------------------------------------------------------------- FTP

def _ftp_login(server: Server, username: str, password: str) -> str:
    ftp = ftplib.FTP()
    try:
        banner = ftp.connect(server.address, server.port, timeout=10)
        assert banner.startswith("220") and "vsFTPd" in banner, banner
        try:
            return ftp.login(username, password)
        except ftplib.error_perm as err:
            return str(err)
    finally:
        ftp.close()


def test_ftp_anonymous_server_lets_anyone_in(ftp_servers: dict[str, Server]) -> None:
    assert _ftp_login(ftp_servers["ftp-anon"], "anonymous", "guest@").startswith("230")


def test_ftp_strong_server_refuses_anonymous_and_defaults(ftp_servers: dict[str, Server]
                                                         ) -> None:
    server = ftp_servers["ftp-strong"]
    assert server.username and server.password
    assert _ftp_login(server, "anonymous", "guest@").startswith("530")
    assert _ftp_login(server, "admin", "admin").startswith("530")
    assert _ftp_login(server, server.username, server.password).startswith("230")


# --------------------------------------------------------------------------- SNMP

SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def _snmpget(server: Server, community: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["snmpget", "-v2c", "-c", community, "-t", "1", "-r", "0", "-On", "-Oqv",
         f"udp:{server.address}:{server.port}", SYS_DESCR],
        capture_output=True, text=True, timeout=10, env={"MIBS": "", "PATH": "/usr/bin:/bin"})


def test_snmp_public_community_answers(snmp_servers: dict[str, Server]) -> None:
    result = _snmpget(snmp_servers["snmp-public"], "public")
    assert result.returncode == 0, result.stderr
    assert SNMP_SYSDESCR in result.stdout


def test_snmp_strong_agent_answers_its_community_only(snmp_servers: dict[str, Server]) -> None:
    server = snmp_servers["snmp-strong"]
    assert server.password
    for community in ("public", "private"):
        result = _snmpget(server, community)
        assert result.returncode != 0 and "Timeout" in result.stderr, result
    result = _snmpget(server, server.password)
    assert result.returncode == 0 and result.stdout.strip(), result.stderr
