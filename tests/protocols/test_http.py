"""HTTP client against local fake Hikvision / Dahua / Axis web servers and hostile servers.

The fakes answer what the real devices send (headers, realms, XML/JSON bodies, error codes)
and check Digest answers with their own hashlib computation, not with the client's code."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import time
from urllib.request import parse_http_list, parse_keqv_list

import pytest
from aiohttp import web
from multidict import CIMultiDict

from camaudit.model import AuthOutcome
from camaudit.protocols import http

HOST = "127.0.0.1"
STATE = web.AppKey("state", dict)


def _h(alg: str, s: str) -> str:
    return (hashlib.sha256 if alg == "SHA-256" else hashlib.md5)(s.encode()).hexdigest()


def digest_user(request: web.Request, users: dict[str, str], realm: str, nonce: str,
                alg: str = "MD5") -> str | None:
    """The authenticated user when the request carries a valid Digest answer (RFC 7616)."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Digest "):
        return None
    p = parse_keqv_list(parse_http_list(auth[7:]))
    user = p.get("username", "")
    if user not in users or p.get("nonce") != nonce or p.get("uri") != request.path_qs:
        return None
    if p.get("algorithm", "MD5").upper() != alg:
        return None
    ha1 = _h(alg, f"{user}:{realm}:{users[user]}")
    ha2 = _h(alg, f"{request.method}:{p['uri']}")
    want = _h(alg, f"{ha1}:{nonce}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    return user if p.get("response") == want else None


async def serve(app: web.Application, host: str = HOST):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


# ------------------------------------------------------------------ Hikvision

HIK_REALM = "IP Camera(C6258)"
HIK_NONCE = "4e5468694e7a42694e7a4d364f4449354d7a6b354d546b3d"
HIK_INFO = b"""<?xml version="1.0" encoding="UTF-8"?>
<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<deviceName>IP CAMERA</deviceName>
<deviceID>88</deviceID>
<model>DS-2CD2142FWD-I</model>
<serialNumber>DS-2CD2142FWD-I20170401AAWR123456789</serialNumber>
<macAddress>44:19:b6:7a:2c:d9</macAddress>
<firmwareVersion>V5.4.5</firmwareVersion>
<firmwareReleasedDate>build 170124</firmwareReleasedDate>
<deviceType>IPCamera</deviceType>
</DeviceInfo>"""


def hik_app(password: str = "12345", lock_after: int = 3) -> web.Application:
    state = {"fails": 0}

    def challenge(extra: str = "") -> web.Response:
        locked = state["fails"] >= lock_after
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<userCheck version="2.0" '
                f'xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                f"<statusValue>401</statusValue><statusString>Unauthorized</statusString>"
                f"<lockStatus>{'lock' if locked else 'unlock'}</lockStatus>"
                f"<unlockTime>{1680 if locked else 0}</unlockTime>"
                f"<retryLoginTime>{max(lock_after - state['fails'], 0)}</retryLoginTime>"
                f"</userCheck>{extra}")
        hdr = (f'Digest qop="auth", realm="{HIK_REALM}", nonce="{HIK_NONCE}", stale="FALSE"')
        return web.Response(status=401, body=body.encode(), content_type="application/xml",
                            headers={"WWW-Authenticate": hdr})

    def authed(request: web.Request) -> bool | None:
        if "Authorization" not in request.headers:
            return None
        if state["fails"] >= lock_after:
            return False
        ok = digest_user(request, {"admin": password}, HIK_REALM, HIK_NONCE) == "admin"
        if not ok:
            state["fails"] += 1
        return ok

    async def root(_):
        raise web.HTTPFound("/doc/page/login.asp?_1578565386040", headers={"Server": "App-webs/"})

    async def login_page(_):
        return web.Response(text="<html><head><title></title></head><body>login</body></html>",
                            content_type="text/html", headers={"Server": "App-webs/"})

    async def device_info(request):
        if not authed(request):
            return challenge()
        return web.Response(body=HIK_INFO, content_type="application/xml")

    async def user_check(request):
        if not authed(request):
            return challenge()
        return web.Response(body=b'<?xml version="1.0" encoding="UTF-8"?><userCheck version="2.0"'
                                 b' xmlns="http://www.hikvision.com/ver20/XMLSchema"><statusValue>'
                                 b"200</statusValue><statusString>OK</statusString></userCheck>",
                            content_type="application/xml")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/doc/page/login.asp", login_page)
    app.router.add_get("/ISAPI/System/deviceInfo", device_info)
    app.router.add_get("/ISAPI/Security/userCheck", user_check)
    app[STATE] = state
    return app


@pytest.fixture
async def hik():
    app = hik_app()
    runner, port = await serve(app)
    yield port, app[STATE]
    await runner.cleanup()


async def test_probe_hikvision_follows_one_redirect_and_stops_after_isapi(hik):
    port, _ = hik
    obs = await http.probe(HOST, port, timeout=3)
    paths = [o.fields["http.path"] for o in obs]
    assert paths == ["/", "/doc/page/login.asp?_1578565386040", "/ISAPI/System/deviceInfo",
                     "/onvif/device_service"]
    root, _, isapi, onvif = obs
    assert root.fields["http.status"] == "302" and root.fields["http.server"] == "App-webs/"
    assert root.fields["http.location"].startswith("/doc/page/login.asp")
    assert isapi.fields["http.status"] == "401"
    assert isapi.fields["http.auth_scheme"] == "digest"
    assert isapi.fields["http.realm"] == HIK_REALM
    assert "<lockStatus>unlock</lockStatus>" in isapi.fields["http.body"]
    assert onvif.fields["http.status"] == "404"
    assert all(o.protocol == "http" and o.error is None for o in obs)
    assert isapi.raw.startswith("HTTP/1.1 401")


async def test_hikvision_login_success_failure_lockout(hik):
    port, state = hik
    ok = await http.hikvision_login(HOST, port, "admin", "12345", timeout=3)
    assert ok.outcome == AuthOutcome.SUCCESS, ok
    bad = await http.hikvision_login(HOST, port, "admin", "wrong", timeout=3)
    assert bad.outcome == AuthOutcome.FAILURE and "2 tries left" in bad.detail
    assert "wrong" not in bad.detail
    await http.hikvision_login(HOST, port, "admin", "wrong2", timeout=3)
    locked = await http.hikvision_login(HOST, port, "admin", "wrong3", timeout=3)
    assert locked.outcome == AuthOutcome.LOCKED and "1680" in locked.detail
    assert state["fails"] == 3
    # even the right password is refused now, and it still says LOCKED
    again = await http.hikvision_login(HOST, port, "admin", "12345", timeout=3)
    assert again.outcome == AuthOutcome.LOCKED


async def test_hikvision_info(hik):
    port, _ = hik
    info = await http.hikvision_info(HOST, port, "admin", "12345", timeout=3)
    assert info == {"device.vendor": "Hikvision", "device.model": "DS-2CD2142FWD-I",
                    "device.serial": "DS-2CD2142FWD-I20170401AAWR123456789",
                    "device.mac": "44:19:b6:7a:2c:d9", "device.firmware": "V5.4.5 build 170124",
                    "device.kind": "camera"}
    assert await http.hikvision_info(HOST, port, "admin", "nope", timeout=3) == {}


def test_old_hikvision_userCheck_200_with_401_status_is_failure():
    r = http.Response(200, "OK", "HTTP/1.1", http.httpx.Headers(),
                      b"<userCheck><statusValue>401</statusValue>"
                      b"<statusString>Unauthorized</statusString></userCheck>")
    assert http.hikvision_user_check(True, r).outcome == AuthOutcome.FAILURE


# ------------------------------------------------------------------ Dahua

DAHUA_REALM = "Login to 4L02B6BPAZ00001"


def dahua_app(password: str = "admin123", lock_after: int = 3) -> web.Application:
    state = {"fails": 0, "sessions": set(), "random": "1234567", "methods": []}

    async def rpc2_login(request):
        req = json.loads(await request.read())
        p = req["params"]
        if p.get("password", "") == "":
            return web.json_response({
                "error": {"code": 268632079, "message": "Component error: login challenge!"},
                "id": req["id"], "params": {"authorization": "0c6d7b3e...", "encryption":
                                            "Default", "mac": "3CEF8C000001",
                                            "random": state["random"], "realm": DAHUA_REALM},
                "result": False, "session": "3d5c7e6b1b2a"})
        if state["fails"] >= lock_after:
            return web.json_response({
                "error": {"code": 268632081, "message": "Component error: User locked!"},
                "id": req["id"], "params": {"remainLockSecond": 1800, "remainLoginTimes": 0},
                "result": False, "session": req["session"]})
        inner = hashlib.md5(f"{p['userName']}:{DAHUA_REALM}:{password}".encode()).hexdigest()
        want = hashlib.md5(f"{p['userName']}:{state['random']}:{inner.upper()}".encode())
        if p["userName"] == "admin" and p["password"] == want.hexdigest().upper():
            state["sessions"].add(req["session"])
            return web.json_response({"id": req["id"], "params": {"keepAliveInterval": 60},
                                      "result": True, "session": req["session"]})
        state["fails"] += 1
        return web.json_response({
            "error": {"code": 268632085, "message": "Component error: User or password not valid!"},
            "id": req["id"],
            "params": {"remainLockSecond": 0, "remainLoginTimes": lock_after - state["fails"]},
            "result": False, "session": req["session"]})

    answers = {"magicBox.getDeviceType": {"type": "IPC-HDW2431T-AS-S2"},
               "magicBox.getSoftwareVersion": {"version": {"Version": "2.800.0000016.0.R",
                                                           "BuildDate": "2020-01-08",
                                                           "WebVersion": "3.2.1.775424"}},
               "magicBox.getSerialNo": {"sn": "6G0C5C1PAZ12345"},
               "magicBox.getDeviceClass": {"type": "IPC"}, "global.logout": None}

    async def rpc2(request):
        req = json.loads(await request.read())
        state["methods"].append(req["method"])
        if req.get("session") not in state["sessions"]:
            return web.json_response({"error": {"code": 287637505, "message": "Invalid session"},
                                      "id": req["id"], "result": False})
        if req["method"] == "global.logout":
            state["sessions"].discard(req["session"])
            return web.json_response({"id": req["id"], "result": True})
        return web.json_response({"id": req["id"], "params": answers[req["method"]],
                                  "result": True, "session": req["session"]})

    async def root(_):
        return web.Response(text="<html><head><title>WEB SERVICE</title></head></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_post("/RPC2_Login", rpc2_login)
    app.router.add_post("/RPC2", rpc2)
    app[STATE] = state
    return app


@pytest.fixture
async def dahua():
    app = dahua_app()
    runner, port = await serve(app, "127.0.0.2")
    yield port, app[STATE]
    await runner.cleanup()


async def test_probe_dahua_challenge_is_a_fingerprint(dahua):
    port, state = dahua
    obs = await http.probe("127.0.0.2", port, timeout=3)
    paths = [o.fields["http.path"] for o in obs]
    assert paths == ["/", "/ISAPI/System/deviceInfo", "/RPC2_Login", "/onvif/device_service"]
    assert obs[0].fields["http.title"] == "WEB SERVICE"
    assert obs[2].fields["http.realm"] == DAHUA_REALM
    assert obs[2].fields["http.dahua_encryption"] == "Default"
    assert state["fails"] == 0 and not state["sessions"]


async def test_dahua_login_and_lockout(dahua):
    port, state = dahua
    ok = await http.dahua_login("127.0.0.2", port, "admin", "admin123", timeout=3)
    assert ok.outcome == AuthOutcome.SUCCESS
    assert state["methods"] == ["global.logout"] and not state["sessions"]
    bad = await http.dahua_login("127.0.0.2", port, "admin", "x", timeout=3)
    assert bad.outcome == AuthOutcome.FAILURE and bad.status == 268632085
    assert "2 tries left" in bad.detail
    for _ in range(2):
        await http.dahua_login("127.0.0.2", port, "admin", "x", timeout=3)
    locked = await http.dahua_login("127.0.0.2", port, "admin", "admin123", timeout=3)
    assert locked.outcome == AuthOutcome.LOCKED and locked.status == 268632081


async def test_dahua_info(dahua):
    port, state = dahua
    info = await http.dahua_info("127.0.0.2", port, "admin", "admin123", timeout=3)
    assert info == {"device.vendor": "Dahua", "device.model": "IPC-HDW2431T-AS-S2",
                    "device.firmware": "V2.800.0000016.0.R, Build Date: 2020-01-08",
                    "device.serial": "6G0C5C1PAZ12345", "device.kind": "camera"}
    assert state["methods"][-1] == "global.logout"
    assert await http.dahua_info("127.0.0.2", port, "admin", "bad", timeout=3) == {}


# ------------------------------------------------------------------ Axis

AXIS_REALM = "AXIS_ACCC8E012345"
AXIS_NONCE = "0001a2b3c4d5e6f708090a0b0c0d0e0f"
AXIS_PROPS = {"Architecture": "armv7hf", "Brand": "AXIS", "BuildDate": "Jun 18 2021 07:51",
              "HardwareID": "714.4", "ProdFullName": "AXIS P1346 Network Camera",
              "ProdNbr": "P1346", "ProdShortName": "AXIS P1346", "ProdType": "Network Camera",
              "ProdVariant": "", "SerialNumber": "ACCC8E012345", "Soc": "Axis Artpec-5",
              "Version": "6.50.5.3", "WebURL": "http://www.axis.com"}


def axis_app(basic_api: bool = True) -> web.Application:
    async def basic(request):
        if not basic_api:
            raise web.HTTPNotFound()
        req = json.loads(await request.read())
        unrestricted = ("Brand", "ProdFullName", "ProdNbr", "ProdShortName", "ProdType",
                        "SerialNumber", "Version", "WebURL", "HardwareID", "BuildDate")
        if req["method"] == "getAllUnrestrictedProperties":
            props = {k: AXIS_PROPS[k] for k in unrestricted}
        elif digest_user(request, {"root": "pass"}, AXIS_REALM, AXIS_NONCE):
            props = AXIS_PROPS
        else:
            return unauthorized()
        return web.json_response({"apiVersion": "1.3", "data": {"propertyList": props}})

    def unauthorized():
        return web.Response(status=401, text="<HTML><HEAD><TITLE>401 Unauthorized</TITLE>",
                            content_type="text/html", headers={
                                "WWW-Authenticate": f'Digest realm="{AXIS_REALM}", '
                                f'nonce="{AXIS_NONCE}", algorithm=MD5, qop="auth"'})

    async def param(request):
        if not digest_user(request, {"root": "pass"}, AXIS_REALM, AXIS_NONCE):
            return unauthorized()
        lines = ["root.Brand.Brand=AXIS", "root.Brand.ProdFullName=AXIS P1346 Network Camera",
                 "root.Brand.ProdNbr=P1346", "root.Brand.ProdType=Network Camera",
                 "root.Properties.Firmware.Version=5.40.9.2",
                 "root.Properties.System.SerialNumber=00408C123456"]
        if request.query.get("group") == "root.Brand.Brand":
            lines = lines[:1]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def root(_):
        raise web.HTTPFound("/camera/index.html", headers={"Server": "Apache"})

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_post("/axis-cgi/basicdeviceinfo.cgi", basic)
    app.router.add_get("/axis-cgi/param.cgi", param)
    return app


async def test_probe_axis_unrestricted_properties():
    runner, port = await serve(axis_app(), "127.0.0.3")
    try:
        obs = await http.probe("127.0.0.3", port, timeout=3)
        paths = [o.fields["http.path"] for o in obs]
        assert paths == ["/", "/camera/index.html", "/ISAPI/System/deviceInfo", "/RPC2_Login",
                         "/axis-cgi/basicdeviceinfo.cgi", "/onvif/device_service"]
        assert '"ProdNbr": "P1346"' in obs[4].fields["http.body"]
    finally:
        await runner.cleanup()


async def test_axis_login_and_info_both_apis():
    runner, port = await serve(axis_app(), "127.0.0.3")
    old, old_port = await serve(axis_app(basic_api=False), "127.0.0.3")
    try:
        assert (await http.axis_login("127.0.0.3", port, "root", "pass", timeout=3)).outcome \
            == AuthOutcome.SUCCESS
        assert (await http.axis_login("127.0.0.3", port, "root", "bad", timeout=3)).outcome \
            == AuthOutcome.FAILURE
        info = await http.axis_info("127.0.0.3", port, "root", "pass", timeout=3)
        assert info == {"device.vendor": "Axis", "device.model": "P1346",
                        "device.firmware": "6.50.5.3", "device.serial": "ACCC8E012345",
                        "device.mac": "AC:CC:8E:01:23:45", "device.kind": "camera"}
        info = await http.axis_info("127.0.0.3", old_port, "root", "pass", timeout=3)
        assert info["device.firmware"] == "5.40.9.2" and info["device.mac"] == "00:40:8C:12:34:56"
    finally:
        await runner.cleanup()
        await old.cleanup()


# ------------------------------------------------------------------ generic login


def generic_app(mode: str) -> web.Application:
    nonce = "abc123"

    async def page(request):
        if mode == "open":
            return web.Response(text="live view")
        if mode == "basic":
            if request.headers.get("Authorization") == "Basic YWRtaW46YWRtaW4=":
                return web.Response(text="ok")
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="DVR"'})
        if mode == "throttle" and "Authorization" in request.headers:
            return web.Response(status=429, text="Too Many Requests")
        if digest_user(request, {"admin": "admin"}, "NVR", nonce, "SHA-256"):
            return web.Response(text="ok")
        headers = CIMultiDict()
        headers.add("WWW-Authenticate", f'Digest realm="NVR", nonce="{nonce}", qop="auth", '
                                        "algorithm=MD5")
        headers.add("WWW-Authenticate", f'Digest realm="NVR", nonce="{nonce}", qop="auth", '
                                        "algorithm=SHA-256")
        return web.Response(status=401, headers=headers)

    app = web.Application()
    app.router.add_get("/cgi-bin/status", page)
    return app


@pytest.mark.parametrize("mode,password,outcome", [
    ("open", "x", AuthOutcome.NO_AUTH),
    ("basic", "admin", AuthOutcome.SUCCESS),
    ("basic", "bad", AuthOutcome.FAILURE),
    ("sha", "admin", AuthOutcome.SUCCESS),
    ("sha", "bad", AuthOutcome.FAILURE),
    ("throttle", "admin", AuthOutcome.LOCKED),
])
async def test_try_login(mode, password, outcome):
    runner, port = await serve(generic_app(mode))
    try:
        r = await http.try_login(HOST, port, "admin", password, path="/cgi-bin/status", timeout=3)
        assert r.outcome == outcome, r
        missing = await http.try_login(HOST, port, "admin", password, path="/nope", timeout=3)
        assert missing.outcome == AuthOutcome.ERROR and missing.status == 404
    finally:
        await runner.cleanup()


async def test_plain_server_404_everywhere_stops_early():
    hits = []

    async def any_path(request):
        hits.append(request.path)
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_path)
    runner, port = await serve(app)
    try:
        obs = await http.probe(HOST, port, timeout=3)
        assert hits == ["/", "/ISAPI/System/deviceInfo"] and len(obs) == 2
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------ hostile servers


@contextlib.asynccontextmanager
async def raw_server(handler, host: str = "127.0.0.4"):
    tasks: set[asyncio.Task] = set()

    async def wrapped(reader, writer):
        tasks.add(asyncio.current_task())
        try:
            await reader.read(4096)
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for t in tasks:
            t.cancel()
        await server.wait_closed()


async def _drip(reader, writer):
    for b in b"HTTP/1.1 200 OK\r\nServer: drip\r\n\r\n" * 100:
        writer.write(bytes([b]))
        await writer.drain()
        await asyncio.sleep(1.0)


async def _oversized(reader, writer):
    writer.write(b"HTTP/1.1 200 OK\r\nX-Fill: " + b"A" * (300 * 1024) + b"\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(5)


async def _reset(reader, writer):
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<html>")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close


async def _garbage(reader, writer):
    writer.write(bytes(range(256)) * 4)
    await writer.drain()


async def _huge_body(reader, writer):
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<title>big</title>")
    for _ in range(200):
        writer.write(b"B" * 16384)
        await writer.drain()


@pytest.mark.parametrize("handler,error", [
    (_drip, "timeout"), (_oversized, "oversized"), (_reset, "reset"), (_garbage, "malformed"),
])
async def test_hostile_probe_is_bounded(handler, error):
    async with raw_server(handler) as port:
        t0 = time.monotonic()
        obs = await http.probe("127.0.0.4", port, timeout=1.5)
        assert time.monotonic() - t0 < 2.5
        assert obs[-1].error == error, obs[-1]
        login = await http.try_login("127.0.0.4", port, "admin", "x", path="/", timeout=1.0)
        assert login.outcome == AuthOutcome.ERROR


async def test_huge_body_is_cut_at_64k():
    async with raw_server(_huge_body) as port:
        async with http.make_client("127.0.0.4", port, tls=False, timeout=3) as client:
            r = await http.fetch(client, "GET", "/")
        assert r.truncated and len(r.body) == 64 * 1024
        assert http.observe("127.0.0.4", port, False, "/", r).fields["http.title"] == "big"


async def test_refused():
    obs = await http.probe("127.0.0.5", 9, timeout=1)
    assert obs[0].error == "refused"
