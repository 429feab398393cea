"""RTSP client against a local camera-like RTSP server and hostile servers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import time
from urllib.request import parse_http_list, parse_keqv_list

import pytest

from camaudit.model import AuthOutcome
from camaudit.protocols import rtsp

ADDR = "127.0.0.8"
REALM = "IP Camera(C6258)"
NONCE = "0e5a3b1c6f4d2e8a9b7c"
SDP = (b"v=0\r\no=- 1109162014219182 1109162014219192 IN IP4 0.0.0.0\r\n"
       b"s=Media Presentation\r\ne=NONE\r\nb=AS:5050\r\nt=0 0\r\n"
       b"a=control:rtsp://127.0.0.8/Streaming/Channels/101/?transportmode=unicast\r\n"
       b"m=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:5000\r\na=recvonly\r\n"
       b"a=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n")


class Camera:
    """Speaks like a Hikvision camera's RTSP server: Digest (and Basic offered), 404 for an
    unknown route, an anonymous route, a lockout after ``lock_after`` bad answers."""

    def __init__(self, lock_after: int = 3, close_after_401: bool = False,
                 protected: str = "Streaming/Channels/101") -> None:
        self.protected = protected
        self.fails = 0
        self.lock_after = lock_after
        self.close_after_401 = close_after_401
        self.requests: list[tuple[str, str, str]] = []

    def valid(self, headers: dict[str, str], method: str) -> bool:
        auth = headers.get("authorization", "")
        if not auth.startswith("Digest "):
            return False
        p = parse_keqv_list(parse_http_list(auth[7:]))
        ha1 = hashlib.md5(f"{p['username']}:{REALM}:12345".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{p['uri']}".encode()).hexdigest()
        want = hashlib.md5(f"{ha1}:{NONCE}:{ha2}".encode()).hexdigest()  # RFC 2069, no qop
        return p["username"] == "admin" and p["uri"].startswith("rtsp://") and \
            p["response"] == want

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, url, _ = lines[0].split(" ")
                headers = {k.lower(): v.strip() for k, _, v in
                           (ln.partition(":") for ln in lines[1:] if ln)}
                self.requests.append((method, url, headers.get("authorization", "")))
                cseq = headers["cseq"]
                status, extra, body = self.answer(method, url, headers)
                out = f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}"
                if body:
                    out += f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n"
                writer.write(out.encode() + b"\r\n" + body)
                await writer.drain()
                if status.startswith("401") and self.close_after_401:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, method, url, headers):
        date = "Date:  Fri, Mar 13 2020 10:12:41 GMT\r\n"
        if method == "OPTIONS":
            return ("200 OK", "Public: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, "
                    "SET_PARAMETER, GET_PARAMETER\r\n" + date, b"")
        path = url.split(":", 2)[2].split("/", 1)[1] if url.count(":") >= 2 else ""
        if path == "live":
            return "200 OK", "", SDP
        if path != self.protected:
            return "404 Not Found", date, b""
        if self.fails >= self.lock_after and "authorization" in headers:
            return "403 Forbidden", date, b""
        if self.valid(headers, method):
            return "200 OK", "Content-Base: " + url + "/\r\n" + date, SDP
        if "authorization" in headers:
            self.fails += 1
        conn = "Connection: close\r\n" if self.close_after_401 else ""
        return ("401 Unauthorized",
                f'WWW-Authenticate: Digest realm="{REALM}", nonce="{NONCE}", stale="FALSE"\r\n'
                f'WWW-Authenticate: Basic realm="{REALM}"\r\n{conn}{date}', b"")


@contextlib.asynccontextmanager
async def serve(handler):
    tasks: set[asyncio.Task] = set()

    async def wrapped(reader, writer):
        tasks.add(asyncio.current_task())
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(wrapped, ADDR, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for t in tasks:
            t.cancel()
        await server.wait_closed()


@pytest.mark.parametrize("close_after_401", [False, True])
async def test_describe_digest_success_and_failure(close_after_401):
    cam = Camera(close_after_401=close_after_401)
    async with serve(cam.handle) as port:
        res, sdp = await rtsp.describe(ADDR, port, "/Streaming/Channels/101", username="admin",
                                       password="12345", timeout=3)
        assert res.outcome == AuthOutcome.SUCCESS and sdp.startswith("v=0")
        assert "m=video 0 RTP/AVP 96" in sdp
        # the Digest uri is the full rtsp URL, as RFC 2326 clients send it
        assert f'uri="rtsp://{ADDR}:{port}/Streaming/Channels/101"' in cam.requests[1][2]
        assert [r[0] for r in cam.requests] == ["DESCRIBE", "DESCRIBE"]
        bad = await rtsp.try_login(ADDR, port, "admin", "wrong", path="/Streaming/Channels/101",
                                   timeout=3)
        assert bad.outcome == AuthOutcome.FAILURE and bad.status == 401


async def test_lockout_noauth_and_missing_route():
    cam = Camera(lock_after=2)
    async with serve(cam.handle) as port:
        for _ in range(2):
            r = await rtsp.try_login(ADDR, port, "admin", "x", path="/Streaming/Channels/101",
                                     timeout=3)
            assert r.outcome == AuthOutcome.FAILURE
        r = await rtsp.try_login(ADDR, port, "admin", "12345", path="/Streaming/Channels/101",
                                 timeout=3)
        assert r.outcome == AuthOutcome.LOCKED and r.status == 403
        anon, sdp = await rtsp.describe(ADDR, port, "/live", timeout=3)
        assert anon.outcome == AuthOutcome.NO_AUTH and "H264/90000" in sdp
        need, _ = await rtsp.describe(ADDR, port, "Streaming/Channels/101", timeout=3)
        assert need.outcome == AuthOutcome.FAILURE and need.detail == "credential required"
        missing, _ = await rtsp.describe(ADDR, port, "/h264", username="admin",
                                         password="12345", timeout=3)
        assert missing.outcome == AuthOutcome.ERROR and missing.detail == "no such route"


async def test_probe_options_and_describe():
    cam = Camera()
    async with serve(cam.handle) as port:
        obs = await rtsp.probe(ADDR, port, timeout=3)
    assert [o.error for o in obs] == [None, None]
    options, desc = obs
    assert options.fields["rtsp.status"] == "200"
    assert options.fields["rtsp.public"].startswith("OPTIONS, DESCRIBE, PLAY")
    assert desc.fields["rtsp.status"] == "404"  # "/" is no route on this camera
    assert cam.requests[0][0] == "OPTIONS" and cam.requests[1][0] == "DESCRIBE"


async def test_probe_sees_the_challenge():
    cam = Camera(protected="")
    async with serve(cam.handle) as port:
        obs = await rtsp.probe(ADDR, port, timeout=3)
    desc = obs[1]
    assert desc.fields["rtsp.status"] == "401"
    assert desc.fields["rtsp.auth_scheme"] == "digest" and desc.fields["rtsp.realm"] == REALM
    assert "Basic" in desc.fields["rtsp.www_authenticate"]


def _sender(payload: bytes, *, then_reset: bool = False, drip: bool = False):
    async def handler(reader, writer):
        await reader.read(4096)
        if drip:
            for b in payload:
                writer.write(bytes([b]))
                await writer.drain()
                await asyncio.sleep(1.0)
        writer.write(payload)
        await writer.drain()
        if then_reset:
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.close()
            return
        await asyncio.sleep(5)
    return handler


@pytest.mark.parametrize("payload,kw,error", [
    (b"$\x00\x00\x0c\x80\x60\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01", {}, "malformed"),
    (bytes(range(256)), {}, "malformed"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", {}, "malformed"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX: " + b"A" * 40000 + b"\r\n\r\n", {}, "oversized"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n" + b"X-A: b\r\n" * 100 + b"\r\n", {}, "oversized"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", {}, "oversized"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 500\r\n\r\nv=0\r\n",
     {"then_reset": True}, "reset"),
    (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n" * 10, {"drip": True}, "timeout"),
])
async def test_hostile_servers(payload, kw, error):
    async with serve(_sender(payload, **kw)) as port:
        t0 = time.monotonic()
        obs = await rtsp.probe(ADDR, port, timeout=1.5)
        assert obs[-1].error == error, obs[-1]
        res, sdp = await rtsp.describe(ADDR, port, "/", username="a", password="b", timeout=1.5)
        assert res.outcome == AuthOutcome.ERROR and res.detail.startswith(error) and sdp == ""
        assert time.monotonic() - t0 < 4


async def test_200_without_sdp_is_not_a_stream():
    async with serve(_sender(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")) as port:
        res, _ = await rtsp.describe(ADDR, port, "/", timeout=2)
    assert res.outcome == AuthOutcome.ERROR and res.detail == "200 without SDP"


async def test_refused():
    res, _ = await rtsp.describe("127.0.0.9", 9, "/", timeout=1)
    assert res.outcome == AuthOutcome.ERROR and res.detail == "refused"
