"""Each emulated family answers its protocols as the real device does, seen by real clients
(httpx, zeep with the official ONVIF WSDLs, ffprobe, asyncssh, pysnmp, ftplib) and raw sockets."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import json
import shutil
import ssl
import struct
import subprocess
import uuid
from pathlib import Path

import defusedxml.ElementTree as DET
import httpx
import pytest

from camaudit.lab.vendorports import sofia_hash

from .conftest import addr

pytestmark = pytest.mark.lab
HIK_NS = "{http://www.hikvision.com/ver20/XMLSchema}"


def attempts(lab, last: int, proto: str) -> dict:
    return lab.attempts().get(addr(last), {}).get(proto, {"attempts": 0, "failure": 0, "success": 0, "locked": 0})


async def raw_exchange(host: str, port: int, data: bytes, *, read: int = 65536, timeout: float = 5.0,
                       until: bytes | None = None) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        if data:
            writer.write(data)
            await writer.drain()
        if until:
            return await asyncio.wait_for(reader.readuntil(until), timeout)
        return await asyncio.wait_for(reader.read(read), timeout)
    finally:
        writer.close()


# --------------------------------------------------------------------------- Hikvision

async def test_hikvision_isapi_digest(lab):
    before = attempts(lab, 11, "http")
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(f"http://{addr(11)}/")
        assert r.status_code == 200 and r.headers["server"] == "App-webs/"
        assert "/doc/page/login.asp" in r.text
        r = await c.get(f"http://{addr(11)}/ISAPI/System/deviceInfo")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith('Digest qop="auth", realm="IP Camera(')
        r = await c.get(f"http://{addr(11)}/ISAPI/System/deviceInfo", auth=httpx.DigestAuth("admin", "12345"))
        assert r.status_code == 200
        info = DET.fromstring(r.content)
        assert info.findtext(f"{HIK_NS}model") == "DS-2CD2032-I"
        assert info.findtext(f"{HIK_NS}firmwareVersion") == "V5.4.1"
        assert info.findtext(f"{HIK_NS}firmwareReleasedDate") == "build 160525"
        assert info.findtext(f"{HIK_NS}deviceType") == "IPCamera"
        r = await c.get(f"http://{addr(11)}/ISAPI/Security/userCheck", auth=httpx.DigestAuth("admin", "nope"))
        assert r.status_code == 401
    after = attempts(lab, 11, "http")
    assert after["success"] - before["success"] == 1
    assert after["failure"] - before["failure"] == 1


async def test_hikvision_lockout_per_source(lab):
    url = f"http://{addr(12)}/ISAPI/Security/userCheck"
    t = httpx.AsyncHTTPTransport(local_address="127.0.0.12")
    async with httpx.AsyncClient(timeout=5, transport=t) as c:
        for i in range(5):
            r = await c.get(url, auth=httpx.DigestAuth("admin", f"wrong{i}"))
            assert r.status_code == 401
            assert DET.fromstring(r.content).findtext(f"{HIK_NS}lockStatus") == ("unlock" if i < 4 else "lock")
        r = await c.get(url, auth=httpx.DigestAuth("admin", "Lq7#Vd2pXr9mTz"))  # right, but locked
        doc = DET.fromstring(r.content)
        assert r.status_code == 401 and doc.findtext(f"{HIK_NS}lockStatus") == "lock"
        assert int(doc.findtext(f"{HIK_NS}unlockTime")) > 500
    other = httpx.AsyncHTTPTransport(local_address="127.0.0.13")
    async with httpx.AsyncClient(timeout=5, transport=other) as c:
        r = await c.get(url, auth=httpx.DigestAuth("admin", "Lq7#Vd2pXr9mTz"))
        assert r.status_code == 200
    assert attempts(lab, 12, "http")["locked"] >= 1


# --------------------------------------------------------------------------- Dahua

async def test_dahua_rpc2_two_step_login(lab):
    base = f"http://{addr(21)}"

    async def login(c: httpx.AsyncClient, password: str, user: str = "admin") -> dict:
        first = (await c.post(f"{base}/RPC2_Login", json={"method": "global.login", "params": {
            "userName": user, "password": "", "clientType": "Web3.0"}, "id": 1})).json()
        assert first["error"]["code"] == 268632079 and first["params"]["encryption"] == "Default"
        p = first["params"]
        ha1 = hashlib.md5(f"{user}:{p['realm']}:{password}".encode()).hexdigest().upper()
        hashed = hashlib.md5(f"{user}:{p['random']}:{ha1}".encode()).hexdigest().upper()
        return (await c.post(f"{base}/RPC2_Login", json={"method": "global.login", "params": {
            "userName": user, "password": hashed, "clientType": "Web3.0", "authorityType": "Default",
            "passwordType": "Default"}, "session": first["session"], "id": 2})).json()

    async with httpx.AsyncClient(timeout=5) as c:
        # this device's firmware words the failures apart (login_error_oracle in the fleet)
        bad = await login(c, "admin1")
        assert bad["result"] is False and bad["error"]["code"] == 268632071
        nobody = await login(c, "x", user="nobody")
        assert nobody["error"]["code"] == 268632070
        ok = await login(c, "admin")
        assert ok["result"] is True
        sess = ok["session"]
        got = {}
        for i, m in enumerate(("magicBox.getDeviceType", "magicBox.getSerialNo", "magicBox.getSoftwareVersion")):
            got[m] = (await c.post(f"{base}/RPC2", json={"method": m, "params": None, "session": sess,
                                                         "id": 10 + i})).json()["params"]
        assert got["magicBox.getDeviceType"]["type"] == "IPC-HDW5231R-ZE"
        assert got["magicBox.getSerialNo"]["sn"] == "5E01A91PAG7F3C1"
        assert got["magicBox.getSoftwareVersion"]["version"]["Version"] == "2.800.0000000.16.R"
        denied = (await c.post(f"{base}/RPC2", json={"method": "magicBox.getSerialNo", "session": "x", "id": 9})).json()
        assert denied["result"] is False


async def test_dvrip_login_packet(lab):
    pkt = bytearray(32)
    pkt[0] = 0xA0
    pkt[8:13] = b"admin"
    pkt[16:21] = b"admin"
    ok = await raw_exchange(addr(21), 37777, bytes(pkt), read=32)
    assert ok[0] == 0xB0 and ok[8] == 0
    pkt[16:21] = b"wrong"
    bad = await raw_exchange(addr(21), 37777, bytes(pkt), read=32)
    assert bad[0] == 0xB0 and bad[8] == 1


# --------------------------------------------------------------------------- Axis

async def test_axis_vapix(lab):
    base = f"http://{addr(41)}"
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.post(f"{base}/axis-cgi/basicdeviceinfo.cgi",
                         json={"apiVersion": "1.0", "method": "getAllUnrestrictedProperties"})
        assert r.json()["data"]["propertyList"]["ProdNbr"] == "M3045-V"
        r = await c.get(f"{base}/axis-cgi/param.cgi?action=list&group=Brand,Properties")
        assert r.status_code == 401 and 'realm="AXIS_ACCC8E7B21F4"' in r.headers["www-authenticate"]
        r = await c.get(f"{base}/axis-cgi/param.cgi?action=list&group=Brand,Properties",
                        auth=httpx.DigestAuth("root", "pass"))
        assert "root.Properties.Firmware.Version=6.50.1" in r.text
        assert "root.Brand.ProdShortName=AXIS M3045-V" in r.text


async def test_secure_axis_tls_and_lockout(lab):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    r, w = await asyncio.open_connection(addr(71), 443, ssl=ctx)
    sslobj = w.get_extra_info("ssl_object")
    assert sslobj.version() in ("TLSv1.2", "TLSv1.3")
    der = sslobj.getpeercert(binary_form=True)
    w.close()
    from cryptography import x509
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.rfc4514_string() == "CN=axis-b8a44f0c19e2"
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(addr(71), 80)
    url = f"https://{addr(71)}/axis-cgi/param.cgi?action=list&group=Brand"
    t = httpx.AsyncHTTPTransport(local_address="127.0.0.71", verify=False)
    async with httpx.AsyncClient(timeout=5, transport=t) as c:
        for i in range(5):
            assert (await c.get(url, auth=httpx.DigestAuth("root", f"guess{i}"))).status_code == 401
        r = await c.get(url, auth=httpx.DigestAuth("root", "Vt3$nQ8wKz5rLp"))
        assert r.status_code == 403 and "blocked" in r.text
    # the lock is device-wide for that source: RTSP refuses it too
    reader, writer = await asyncio.open_connection(addr(71), 554, local_addr=("127.0.0.71", 0))
    writer.write(b"DESCRIBE rtsp://x/axis-media/media.amp RTSP/1.0\r\nCSeq: 2\r\n"
                 b"Authorization: Digest username=\"root\", realm=\"x\", nonce=\"n\", uri=\"/\", response=\"0\"\r\n\r\n")
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"RTSP/1.0 403")
    writer.close()


async def test_ssdp_and_wsdiscovery_unicast(lab):
    loop = asyncio.get_running_loop()
    got: asyncio.Queue[tuple[bytes, tuple]] = asyncio.Queue()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data, a):
            got.put_nowait((data, a))

    tr, _ = await loop.create_datagram_endpoint(P, local_addr=("127.0.0.1", 0))
    try:
        tr.sendto(b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
                  b"MX: 1\r\nST: upnp:rootdevice\r\n\r\n", (addr(41), 1900))
        data, src = await asyncio.wait_for(got.get(), 3)
        assert src[0] == addr(41)
        loc = next(l.split(":", 1)[1].strip() for l in data.decode().split("\r\n") if l.upper().startswith("LOCATION"))
        assert loc.startswith(f"http://{addr(41)}:")
        async with httpx.AsyncClient(timeout=5) as c:
            desc = DET.fromstring((await c.get(loc)).content)
        assert desc.findtext(".//{urn:schemas-upnp-org:device-1-0}modelNumber") == "M3045-V"
        mid = f"uuid:{uuid.uuid4()}"
        probe = ('<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
                 'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
                 'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
                 f"<e:Header><w:MessageID>{mid}</w:MessageID><w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
                 "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
                 "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>")
        tr.sendto(probe.encode(), (addr(51), 3702))
        data, src = await asyncio.wait_for(got.get(), 3)
        doc = DET.fromstring(data)
        d = "{http://schemas.xmlsoap.org/ws/2005/04/discovery}"
        assert doc.findtext(".//{http://schemas.xmlsoap.org/ws/2004/08/addressing}RelatesTo") == mid
        assert doc.findtext(f".//{d}XAddrs") == f"http://{addr(51)}/onvif/device_service"
        assert "onvif://www.onvif.org/hardware/MS-C2963-PB" in doc.findtext(f".//{d}Scopes")
    finally:
        tr.close()


# --------------------------------------------------------------------------- ONVIF (zeep)

def _wsdl_dir() -> Path:
    import onvif
    return Path(onvif.__file__).parent / "wsdl"


def _zeep(host: str, wsdl: str, binding: str, path: str, user: str | None = None, pw: str | None = None):
    from zeep import Client, Settings
    from zeep.wsse.username import UsernameToken
    client = Client(str(_wsdl_dir() / wsdl), wsse=UsernameToken(user, pw, use_digest=True) if user else None,
                    settings=Settings(strict=True))
    return client.create_service(binding, f"http://{host}{path}")


def test_onvif_with_zeep_official_wsdls(lab):
    from zeep.exceptions import Fault
    dev_binding = "{http://www.onvif.org/ver10/device/wsdl}DeviceBinding"
    media_binding = "{http://www.onvif.org/ver10/media/wsdl}MediaBinding"
    anon = _zeep(addr(21), "devicemgmt.wsdl", dev_binding, "/onvif/device_service")
    t = anon.GetSystemDateAndTime()
    assert t.UTCDateTime.Date.Year >= 2024
    with pytest.raises(Fault) as e:
        anon.GetDeviceInformation()
    assert "NotAuthorized" in str(e.value.subcodes[0])
    dev = _zeep(addr(21), "devicemgmt.wsdl", dev_binding, "/onvif/device_service", "admin", "admin")
    info = dev.GetDeviceInformation()
    assert (info.Manufacturer, info.Model, info.SerialNumber) == ("Dahua", "IPC-HDW5231R-ZE", "5E01A91PAG7F3C1")
    caps = dev.GetCapabilities(Category="All")
    media_xaddr = caps.Media.XAddr
    assert media_xaddr == f"http://{addr(21)}/onvif/Media"
    media = _zeep(addr(21), "media.wsdl", media_binding, "/onvif/Media", "admin", "admin")
    token = media.GetProfiles()[0].token
    uri = media.GetStreamUri({"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}, token)
    assert uri.Uri == f"rtsp://{addr(21)}:554/cam/realmonitor?channel=1&subtype=0"
    bad = _zeep(addr(21), "devicemgmt.wsdl", dev_binding, "/onvif/device_service", "admin", "wrong")
    with pytest.raises(Fault):
        bad.GetDeviceInformation()
    # the generic camera answers everything without a credential (the weakness)
    open_dev = _zeep(addr(51), "devicemgmt.wsdl", dev_binding, "/onvif/device_service")
    assert open_dev.GetDeviceInformation().Manufacturer == "Milesight"
    assert len(open_dev.GetServices(False)) == 2
    open_media = _zeep(addr(51), "media.wsdl", media_binding, "/onvif/Media")
    assert open_media.GetStreamUri({"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                   "Profile_1").Uri == f"rtsp://{addr(51)}:554/main"


# --------------------------------------------------------------------------- RTSP

async def test_rtsp_raw_options_describe(lab):
    opts = await raw_exchange(addr(21), 554, b"OPTIONS rtsp://h/ RTSP/1.0\r\nCSeq: 7\r\n\r\n", until=b"\r\n\r\n")
    assert opts.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 7\r\n" in opts and b"DESCRIBE" in opts
    d = await raw_exchange(addr(21), 554, b"DESCRIBE rtsp://h/cam/realmonitor?channel=1&subtype=0 RTSP/1.0\r\n"
                           b"CSeq: 8\r\nAccept: application/sdp\r\n\r\n", until=b"\r\n\r\n")
    assert d.startswith(b"RTSP/1.0 401") and b"CSeq: 8" in d
    assert b'WWW-Authenticate: Digest realm="Login to 5E01A91PAG7F3C1", nonce="' in d
    anon = await raw_exchange(addr(51), 554, b"DESCRIBE rtsp://h/main RTSP/1.0\r\nCSeq: 2\r\n\r\n", read=4096)
    head, _, sdp = anon.partition(b"\r\n\r\n")
    assert head.startswith(b"RTSP/1.0 200") and b"application/sdp" in head
    assert b"m=video 0 RTP/AVP 96" in sdp and b"a=rtpmap:96 H264/90000" in sdp and b"sprop-parameter-sets=" in sdp


def _ffprobe(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ffprobe", "-hide_banner", "-v", "error", "-rtsp_transport", "tcp", "-timeout", "5000000",
                           "-show_entries", "stream=codec_name,width,height", "-of", "json", url],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
async def test_rtsp_ffprobe_reads_h264(lab):
    ok = await asyncio.to_thread(_ffprobe, f"rtsp://admin:12345@{addr(11)}:554/Streaming/Channels/101")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["streams"][0] == {"codec_name": "h264", "width": 320, "height": 240}
    denied = await asyncio.to_thread(_ffprobe, f"rtsp://{addr(11)}:554/Streaming/Channels/101")
    assert denied.returncode != 0 and "401" in denied.stderr
    anon = await asyncio.to_thread(_ffprobe, f"rtsp://{addr(51)}:554/main")
    assert json.loads(anon.stdout)["streams"][0]["codec_name"] == "h264"


# --------------------------------------------------------------------------- Xiongmai

async def test_xiongmai_telnet_busybox_login(lab):
    reader, writer = await asyncio.open_connection(addr(31), 23)
    try:
        first = await asyncio.wait_for(reader.readuntil(b"login: "), 5)
        assert first.startswith(b"\xff\xfd\x01") and first.endswith(b"(none) login: ")
        writer.write(b"root\r\n")
        await asyncio.wait_for(reader.readuntil(b"Password: "), 5)
        writer.write(b"guess\r\n")
        assert b"Login incorrect" in await asyncio.wait_for(reader.readuntil(b"login: "), 5)
        writer.write(b"root\r\n")
        await asyncio.wait_for(reader.readuntil(b"Password: "), 5)
        writer.write(b"xc3511\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"# "), 5)).count(b"BusyBox") == 1
    finally:
        writer.close()
    a = attempts(lab, 31, "telnet")
    assert a["failure"] >= 1 and a["success"] >= 1


async def test_xiongmai_web_and_sofia(lab):
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(f"http://{addr(31)}/")
    assert r.headers["server"] == "uc-httpd 1.0.0" and "NETSurveillance WEB" in r.text
    reader, writer = await asyncio.open_connection(addr(31), 34567)
    hdr = struct.Struct("<BBHIIBBHI")

    async def call(session: int, msg: int, obj: dict) -> tuple[tuple, dict]:
        body = json.dumps(obj).encode() + b"\x0a\x00"
        writer.write(hdr.pack(0xFF, 0, 0, session, 0, 0, 0, msg, len(body)) + body)
        h = hdr.unpack(await asyncio.wait_for(reader.readexactly(20), 5))
        payload = await asyncio.wait_for(reader.readexactly(h[8]), 5)
        return h, json.loads(payload.rstrip(b"\x00\n"))

    try:
        h, bad = await call(0, 1000, {"EncryptType": "MD5", "LoginType": "DVRIP-Web",
                                      "PassWord": sofia_hash("admin"), "UserName": "admin"})
        assert h[0] == 0xFF and h[7] == 1001 and bad["Ret"] == 203
        h, ok = await call(0, 1000, {"EncryptType": "MD5", "LoginType": "DVRIP-Web",
                                     "PassWord": "tlJwpbo6", "UserName": "admin"})
        assert ok["Ret"] == 100
        sid = int(ok["SessionID"], 16)
        h, info = await call(sid, 1020, {"Name": "SystemInfo", "SessionID": ok["SessionID"]})
        assert info["SystemInfo"]["HardWare"] == "NBD80S10S-KL"
        assert info["SystemInfo"]["SoftWareVersion"].startswith("V4.02.R11")
    finally:
        writer.close()


# --------------------------------------------------------------------------- Uniview / FTP

def _ftp_anonymous(host: str) -> tuple[str, list[str]]:
    ftp = ftplib.FTP()
    ftp.connect(host, 21, timeout=5)
    try:
        banner = ftp.getwelcome()
        ftp.login()  # anonymous
        names = ftp.nlst()
        return banner, names
    finally:
        ftp.close()


async def test_uniview_ftp_anonymous_and_lapi(lab):
    banner, names = await asyncio.to_thread(_ftp_anonymous, addr(35))
    assert banner.startswith("220 ") and "record" in names
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.get(f"http://{addr(35)}/LAPI/V1.0/System/DeviceBasicInfo", auth=httpx.DigestAuth("admin", "123456"))
    assert r.json()["Response"]["Data"]["DeviceModel"] == "IPC322LR3-VSPF28-D"


# --------------------------------------------------------------------------- Hikvision NVR: SSH, SNMP, SDK

async def test_nvr_ssh_password_auth(lab):
    import asyncssh
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncio.wait_for(asyncssh.connect(addr(61), 22, username="admin", password="12345",
                                                known_hosts=None, preferred_auth="password"), 10)
    async with asyncssh.connect(addr(61), 22, username="admin", password="admin123", known_hosts=None,
                                preferred_auth="password") as conn:
        assert conn.get_extra_info("server_version") == "SSH-2.0-dropbear_2014.63"
    a = attempts(lab, 61, "ssh")
    assert a["failure"] >= 1 and a["success"] >= 1


async def test_nvr_snmp_get_and_getnext(lab):
    from pysnmp.hlapi.v3arch.asyncio import (CommunityData, ContextData, ObjectIdentity, ObjectType,
                                             SnmpEngine, UdpTransportTarget, get_cmd, next_cmd)
    engine = SnmpEngine()
    target = await UdpTransportTarget.create((addr(61), 161), timeout=1, retries=0)
    err, status, _, binds = await get_cmd(engine, CommunityData("public", mpModel=1), target, ContextData(),
                                          ObjectType(ObjectIdentity("1.3.6.1.2.1.1.1.0")),
                                          ObjectType(ObjectIdentity("1.3.6.1.2.1.1.2.0")))
    assert err is None and int(status) == 0
    assert str(binds[0][1]) == "Hikvision DS-7608NI-K2"
    assert str(binds[1][1]).startswith("1.3.6.1.4.1.39165")
    err, status, _, binds = await next_cmd(engine, CommunityData("public", mpModel=0), target, ContextData(),
                                           ObjectType(ObjectIdentity("1.3.6.1.2.1.1.4.0")))
    assert err is None and str(binds[0][0]) == "1.3.6.1.2.1.1.5.0"
    err, *_ = await get_cmd(engine, CommunityData("private", mpModel=1), target, ContextData(),
                            ObjectType(ObjectIdentity("1.3.6.1.2.1.1.1.0")))
    assert err is not None  # wrong community: no answer at all
    engine.close_dispatcher()


async def test_hik_sdk_port_answers(lab):
    pkt = struct.pack("!I", 32) + bytes(28)
    got = await raw_exchange(addr(61), 8000, pkt, read=64)
    assert len(got) == 16 and struct.unpack("!I", got[:4])[0] == 16


# --------------------------------------------------------------------------- other devices

async def test_router_and_nginx(lab):
    async with httpx.AsyncClient(timeout=5, verify=False) as c:
        r = await c.get(f"https://{addr(81)}/")
        assert "RouterOS" in r.text
        r = await c.get(f"http://{addr(82)}/")
        assert r.headers["server"] == "nginx/1.22.1" and "Welcome to nginx!" in r.text
    banner = await raw_exchange(addr(81), 22, b"", until=b"\r\n")
    assert banner == b"SSH-2.0-ROSSSH\r\n"
