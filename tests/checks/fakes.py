"""Small fake camera services on loopback for the check tests: a Hikvision-like web server
(ISAPI userCheck with Digest and an optional illegal-login lock) and an RTSP server (DESCRIBE
with Basic auth or anonymous).  Each counts the login attempts it received, per user name."""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
from urllib.request import parse_http_list, parse_keqv_list

from aiohttp import web

HOST = "127.0.0.1"
REALM = "IP Camera(C6258)"
NONCE = "4e5468694e7a42694e7a4d364f4449354d7a6b354d546b3d"
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Media Presentation\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n")


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


class FakeHikvision:
    """GET / -> login page; /ISAPI/System/deviceInfo and /ISAPI/Security/userCheck need Digest
    (RFC 7616, qop=auth).  After ``lock_after`` failures every answer carries lockStatus=lock."""

    def __init__(self, users: dict[str, str], lock_after: int | None = None) -> None:
        self.users = users
        self.lock_after = lock_after
        self.failures = 0
        self.attempts: collections.Counter[str] = collections.Counter()
        self.runner: web.AppRunner | None = None
        self.port = 0

    def _user(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Digest "):
            return None
        p = parse_keqv_list(parse_http_list(auth[7:]))
        user = p.get("username", "")
        self.attempts[user] += 1
        if user in self.users and p.get("nonce") == NONCE and p.get("uri") == request.path_qs:
            ha1 = _md5(f"{user}:{REALM}:{self.users[user]}")
            ha2 = _md5(f"{request.method}:{p['uri']}")
            if p.get("response") == _md5(f"{ha1}:{NONCE}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}"):
                return user
        self.failures += 1
        return ""

    def _locked(self) -> bool:
        return self.lock_after is not None and self.failures >= self.lock_after

    def _challenge(self) -> web.Response:
        lock = "lock" if self._locked() else "unlock"
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<userCheck version="2.0" '
                'xmlns="http://www.hikvision.com/ver20/XMLSchema"><statusValue>401</statusValue>'
                f"<statusString>Unauthorized</statusString><lockStatus>{lock}</lockStatus>"
                f"<unlockTime>{1800 if lock == 'lock' else 0}</unlockTime></userCheck>")
        return web.Response(status=401, body=body.encode(), content_type="application/xml",
                            headers={"WWW-Authenticate": f'Digest qop="auth", realm="{REALM}", '
                                                         f'nonce="{NONCE}", stale="FALSE"'})

    async def _protected(self, request: web.Request) -> web.Response:
        if self._locked():
            if "Authorization" in request.headers:
                self.attempts[parse_keqv_list(parse_http_list(
                    request.headers["Authorization"][7:])).get("username", "")] += 1
            return self._challenge()
        if not self._user(request):
            return self._challenge()
        return web.Response(body=b'<?xml version="1.0" encoding="UTF-8"?><userCheck version="2.0"'
                                 b' xmlns="http://www.hikvision.com/ver20/XMLSchema"><statusValue>'
                                 b"200</statusValue><statusString>OK</statusString></userCheck>",
                            content_type="application/xml")

    async def _root(self, _: web.Request) -> web.Response:
        return web.Response(text="<html><head><title>Login</title></head><body>user name"
                                 " password</body></html>", content_type="text/html",
                            headers={"Server": "App-webs/"})

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/ISAPI/System/deviceInfo", self._protected)
        app.router.add_get("/ISAPI/Security/userCheck", self._protected)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


class FakeRtsp:
    """RTSP/1.0 (RFC 2326) OPTIONS/DESCRIBE.  ``routes`` are served; others answer 404.  With
    ``users`` a DESCRIBE needs Basic auth (401 + WWW-Authenticate first, as cameras do for any
    path); without, it is served anonymously."""

    def __init__(self, routes: set[str], users: dict[str, str] | None = None) -> None:
        self.routes = routes
        self.users = users
        self.describes = 0
        self.attempts: collections.Counter[str] = collections.Counter()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                lines = head.decode().split("\r\n")
                method, url, _ = lines[0].split(" ", 2)
                hdrs = {k.strip().lower(): v.strip() for k, v in
                        (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                writer.write(self._answer(method, url, hdrs).encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def _answer(self, method: str, url: str, hdrs: dict[str, str]) -> str:
        cseq = hdrs.get("cseq", "0")
        if method == "OPTIONS":
            return f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n"
        self.describes += 1
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        if self.users is not None:
            auth = hdrs.get("authorization", "")
            ok = False
            if auth.startswith("Basic "):
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                self.attempts[user] += 1
                ok = self.users.get(user) == pw
            if not ok:
                return (f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                        f'WWW-Authenticate: Basic realm="{REALM}"\r\n\r\n')
        if path not in self.routes:
            return f"RTSP/1.0 404 Not Found\r\nCSeq: {cseq}\r\n\r\n"
        return (f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                f"Content-Base: {url}/\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}")

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()
