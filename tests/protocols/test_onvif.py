"""ONVIF client: envelope shape and digest vector, and a local fake device (Hikvision-like
answers) checking the UsernameToken itself; hostile XML is refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import xml.etree.ElementTree as ET
from urllib.request import parse_http_list, parse_keqv_list

import pytest
from aiohttp import web

from camaudit.model import AuthOutcome
from camaudit.protocols import onvif

ADDR = "127.0.0.10"
NS = {"s": "http://www.w3.org/2003/05/soap-envelope",
      "wsse": onvif.WSSE, "wsu": onvif.WSU, "tds": onvif.TDS}
SKEW = dt.timedelta(days=-1234, seconds=77)  # the device clock is wrong, as cameras' often are


def test_password_digest_onvif_guide_vector():
    # ONVIF Application Programmer's Guide, UsernameToken example
    nonce = base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
    assert onvif.password_digest(nonce, "2010-09-16T07:50:45Z", "userpassword") == \
        "tuOSpGlFlIXsozq4HFNeeGeFLEI="


def test_envelope_is_valid_soap12_with_username_token():
    nonce = base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
    sec = onvif.security_header("us<er", "userpassword", created="2010-09-16T07:50:45Z",
                                nonce=nonce)
    root = ET.fromstring(onvif.envelope("<tds:GetDeviceInformation/>", sec))
    assert root.tag == f"{{{NS['s']}}}Envelope"
    body = root.find("s:Body", NS)
    assert body[0].tag == f"{{{onvif.TDS}}}GetDeviceInformation"
    security = root.find("s:Header/wsse:Security", NS)
    assert security.get(f"{{{NS['s']}}}mustUnderstand") == "1"
    token = security.find("wsse:UsernameToken", NS)
    assert token.find("wsse:Username", NS).text == "us<er"
    password = token.find("wsse:Password", NS)
    assert password.get("Type").endswith("#PasswordDigest")
    assert password.text == "tuOSpGlFlIXsozq4HFNeeGeFLEI="
    assert token.find("wsse:Nonce", NS).text == "LKqI6G/AikKCQrN0zqZFlg=="
    assert token.find("wsse:Nonce", NS).get("EncodingType").endswith("#Base64Binary")
    assert token.find("wsu:Created", NS).text == "2010-09-16T07:50:45Z"
    stream = ET.fromstring(onvif.envelope(onvif.stream_uri_body("Profile_1")))
    assert stream.find(".//{http://www.onvif.org/ver10/schema}Protocol").text == "RTSP"


def env(body: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
            'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
            'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
            'xmlns:tt="http://www.onvif.org/ver10/schema" '
            'xmlns:ter="http://www.onvif.org/ver10/error">'
            f"<env:Body>{body}</env:Body></env:Envelope>")


def fault(reason: str, sub: str = "ter:NotAuthorized") -> str:
    return env("<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
               f"<env:Value>{sub}</env:Value></env:Subcode></env:Code><env:Reason>"
               f'<env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>')


def device_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + SKEW


def time_answer() -> str:
    t = device_now()
    return env("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
               "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false"
               "</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-7:00:00</tt:TZ></tt:TimeZone>"
               f"<tt:UTCDateTime><tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}"
               f"</tt:Minute><tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>"
               f"{t.year}</tt:Year><tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day>"
               "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
               "</tds:GetSystemDateAndTimeResponse>")


ANSWERS = {
    "GetDeviceInformation": env(
        "<tds:GetDeviceInformationResponse><tds:Manufacturer>HIKVISION</tds:Manufacturer>"
        "<tds:Model>DS-2CD2142FWD-I</tds:Model><tds:FirmwareVersion>V5.4.5 build 170124"
        "</tds:FirmwareVersion><tds:SerialNumber>DS-2CD2142FWD-I20170401AAWR123456789"
        "</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"),
    "GetNetworkInterfaces": env(
        '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
        "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
        "<tt:HwAddress>44:19:b6:7a:2c:d9</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>"
        "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"),
    "GetCapabilities": env(
        "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media>"
        "<tt:XAddr>http://192.168.1.64/onvif/Media</tt:XAddr><tt:StreamingCapabilities>"
        "<tt:RTPMulticast>true</tt:RTPMulticast></tt:StreamingCapabilities></tt:Media>"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"),
    "GetProfiles": env(
        '<trt:GetProfilesResponse><trt:Profiles fixed="true" token="Profile_1">'
        "<tt:Name>mainStream</tt:Name></trt:Profiles><trt:Profiles fixed=\"true\" "
        'token="Profile_2"><tt:Name>subStream</tt:Name></trt:Profiles>'
        "</trt:GetProfilesResponse>"),
    "GetStreamUri": env(
        "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://192.168.1.64:554/Streaming/"
        "Channels/101?transportmode=unicast&amp;profile=Profile_1</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect></trt:MediaUri>"
        "</trt:GetStreamUriResponse>"),
}

BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<lolz>&lol3;</lolz>")
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>&x;'
       "</env:Body></env:Envelope>")


class Device:
    def __init__(self, mode: str = "wsse", lock_after: int = 99) -> None:
        self.mode = mode  # wsse | open | bomb | xxe | garbage
        self.fails = 0
        self.lock_after = lock_after
        self.calls: list[tuple[str, str]] = []

    def token_ok(self, root: ET.Element) -> bool | None:
        token = root.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
        if token is None:
            return None
        created = token.find("wsu:Created", NS).text
        skew = abs(dt.datetime.fromisoformat(created.replace("Z", "+00:00")) - device_now())
        nonce = base64.b64decode(token.find("wsse:Nonce", NS).text)
        want = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"12345").digest())
        return (token.find("wsse:Username", NS).text == "admin" and skew.total_seconds() < 10
                and token.find("wsse:Password", NS).text == want.decode())

    async def handle(self, request: web.Request) -> web.Response:
        if self.mode in ("bomb", "xxe", "garbage"):
            text = {"bomb": BOMB, "xxe": XXE, "garbage": "\x00\x01<<>>"}[self.mode]
            return web.Response(text=text, content_type="application/soap+xml")
        root = ET.fromstring(await request.read())
        name = root.find("s:Body", NS)[0].tag.rsplit("}", 1)[1]
        self.calls.append((request.path, name))
        if name == "GetSystemDateAndTime":
            return self.soap(time_answer())
        if self.mode == "httpdigest":
            return self.http_digest(request, name)
        ok = self.token_ok(root)
        if self.mode != "open" and not ok:
            if ok is False:
                self.fails += 1
            if self.fails > self.lock_after:
                return self.soap(fault("The user account is locked"), 400)
            return self.soap(fault("Sender not Authorized"), 400)
        return self.soap(ANSWERS[name])

    def http_digest(self, request: web.Request, name: str) -> web.Response:
        """Devices that want HTTP Digest on the SOAP POST (RFC 2617, qop auth)."""
        auth = request.headers.get("Authorization", "")
        p = parse_keqv_list(parse_http_list(auth[7:])) if auth.startswith("Digest ") else {}
        if p:
            ha1 = hashlib.md5(b"admin:onvif:12345").hexdigest()
            ha2 = hashlib.md5(f"POST:{p['uri']}".encode()).hexdigest()
            want = hashlib.md5(f"{ha1}:n0nce:{p['nc']}:{p['cnonce']}:auth:{ha2}".encode())
            if p["response"] == want.hexdigest() and p["uri"] == request.path:
                return self.soap(ANSWERS[name])
        return web.Response(status=401, headers={
            "WWW-Authenticate": 'Digest realm="onvif", qop="auth", nonce="n0nce"'})

    @staticmethod
    def soap(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="application/soap+xml")


@pytest.fixture
async def device():
    made = []

    async def start(mode="wsse", **kw):
        dev = Device(mode, **kw)
        app = web.Application()
        app.router.add_post("/onvif/device_service", dev.handle)
        app.router.add_post("/onvif/Media", dev.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, ADDR, 0)
        await site.start()
        made.append(runner)
        return dev, runner.addresses[0][1]

    yield start
    for runner in made:
        await runner.cleanup()


async def test_probe_auth_required(device):
    dev, port = await device()
    obs = await onvif.probe(ADDR, port, timeout=3)
    assert [o.error for o in obs] == [None, None]
    when = dt.datetime.fromisoformat(obs[0].fields["onvif.utc_time"])
    assert abs((when - device_now()).total_seconds()) < 5
    assert obs[1].fields["onvif.auth_required"] == "true"
    assert "NotAuthorized" in obs[1].fields["onvif.soap_fault"]


async def test_probe_open_device(device):
    dev, port = await device("open")
    obs = await onvif.probe(ADDR, port, timeout=3)
    f = obs[1].fields
    assert f["onvif.auth_required"] == "false" and f["onvif.manufacturer"] == "HIKVISION"
    assert f["onvif.firmware"] == "V5.4.5 build 170124" and f["onvif.hardware_id"] == "88"


async def test_login_uses_device_clock_and_classifies(device):
    dev, port = await device(lock_after=1)
    ok = await onvif.try_login(ADDR, port, "admin", "12345", timeout=3)
    assert ok.outcome == AuthOutcome.SUCCESS, ok
    bad = await onvif.try_login(ADDR, port, "admin", "nope", timeout=3)
    assert bad.outcome == AuthOutcome.FAILURE and "NotAuthorized" in bad.detail
    locked = await onvif.try_login(ADDR, port, "admin", "nope", timeout=3)
    assert locked.outcome == AuthOutcome.LOCKED


async def test_login_on_open_device_is_no_auth(device):
    dev, port = await device("open")
    r = await onvif.try_login(ADDR, port, "admin", "whatever", timeout=3)
    assert r.outcome == AuthOutcome.NO_AUTH


async def test_device_info_and_stream_uri_stay_on_target(device):
    dev, port = await device()
    info = await onvif.device_info(ADDR, port, "admin", "12345", timeout=3)
    assert info == {"device.vendor": "HIKVISION", "device.model": "DS-2CD2142FWD-I",
                    "device.firmware": "V5.4.5 build 170124",
                    "device.serial": "DS-2CD2142FWD-I20170401AAWR123456789",
                    "device.mac": "44:19:b6:7a:2c:d9"}
    result, uri = await onvif.get_stream_uri(ADDR, port, username="admin", password="12345",
                                             timeout=3)
    assert result.outcome == AuthOutcome.SUCCESS
    assert uri == ("rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast"
                   "&profile=Profile_1")
    # the Media XAddr named 192.168.1.64: only its path was used, on the scanned address
    assert ("/onvif/Media", "GetStreamUri") in dev.calls
    anon, none = await onvif.get_stream_uri(ADDR, port, timeout=3)
    assert anon.outcome == AuthOutcome.FAILURE and none is None


async def test_anonymous_stream_uri(device):
    dev, port = await device("open")
    result, uri = await onvif.get_stream_uri(ADDR, port, timeout=3)
    assert result.outcome == AuthOutcome.NO_AUTH and uri.startswith("rtsp://")


@pytest.mark.parametrize("mode,error", [("bomb", "xml-attack"), ("xxe", "xml-attack"),
                                        ("garbage", "malformed")])
async def test_hostile_xml_refused(device, mode, error):
    dev, port = await device(mode)
    obs = await onvif.probe(ADDR, port, timeout=3)
    assert obs[-1].error == error
    r = await onvif.try_login(ADDR, port, "admin", "12345", timeout=3)
    assert r.outcome == AuthOutcome.ERROR and r.detail == error
    assert await onvif.device_info(ADDR, port, "admin", "12345", timeout=3) == {}


def test_http_digest_fallback_answer_parsing():
    answer = onvif.parse_answer(401, b"")
    assert onvif.classify(answer).outcome == AuthOutcome.FAILURE
    soap11 = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
              b"<s:Fault><faultcode>s:Client</faultcode><faultstring>Account locked"
              b"</faultstring></s:Fault></s:Body></s:Envelope>")
    assert onvif.classify(onvif.parse_answer(500, soap11)).outcome == AuthOutcome.LOCKED


async def test_http_digest_device(device):
    dev, port = await device("httpdigest")
    assert (await onvif.try_login(ADDR, port, "admin", "12345", timeout=3)).outcome == \
        AuthOutcome.SUCCESS
    assert (await onvif.try_login(ADDR, port, "admin", "bad", timeout=3)).outcome == \
        AuthOutcome.FAILURE
