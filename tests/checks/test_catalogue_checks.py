"""The rest of the check catalogue with fake devices: TLS (observations and one real weak TLS
server), exposure (UPnP, debug ports, device information, snapshots), clock, end of support and
the login-error oracle.  Each check has a device that trips it and one that does not."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import ssl
import warnings
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from camaudit.checks.base import LoginBudget
from camaudit.checks.exposure import (
    SNAPSHOT_PATHS,
    NeedlessService,
    UnauthenticatedConfig,
    UnauthenticatedSnapshot,
    UpnpExposed,
)
from camaudit.checks.lifecycle import ClockUnsynchronised, EndOfSupportFirmware
from camaudit.checks.oracle import PROBE_USER, LoginErrorOracle
from camaudit.checks.tls import TlsCertInvalid, TlsWeak
from camaudit.knowledge import exposure
from camaudit.model import DeviceKind, HostResult, Identity, Observation
from camaudit.protocols import tls as tlsproto

A = "127.0.0.1"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
DATA = Path(__file__).parent / "data"


def cam(*obs: Observation, vendor: str | None = None, model: str | None = None,
        firmware: str | None = None, open_ports: list[int] | None = None) -> HostResult:
    return HostResult(A, open_ports=open_ports or [], observations=list(obs), identity=Identity(
        vendor=vendor, model=model, firmware=firmware, kind=DeviceKind.CAMERA))


def tls_obs(port: int = 443, **fields: str) -> Observation:
    base = {"tls.version": "TLSv1.3", "tls.cipher": "TLS_AES_256_GCM_SHA384",
            "tls.versions": "TLSv1.2,TLSv1.3", "tls.key": "EC-secp256r1",
            "tls.signature_hash": "sha256", "tls.self_signed": "true",
            "tls.not_before": "2024-01-01T00:00:00+00:00",
            "tls.not_after": "2034-01-01T00:00:00+00:00"}
    base.update({k.replace("_", ".", 1): v for k, v in fields.items()})
    return Observation(A, port, "tls", fields=base)


class Site:
    """An aiohttp app on 127.0.0.1, counting requests per path."""

    def __init__(self, routes: dict[str, web.Response | object]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path_qs)
        handler = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request) if callable(handler) else handler  # type: ignore[misc]

    async def __aenter__(self) -> Site:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, A, 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


# ------------------------------------------------------------------ TLS

async def test_tls_weak_old_versions_cipher_and_short_key(ctx):
    host = cam(tls_obs(tls_versions="TLSv1,TLSv1.1,TLSv1.2", tls_key="RSA-1024", tls_version="TLSv1.2", tls_cipher="DES-CBC3-SHA"), vendor="Hikvision")
    [f] = await TlsWeak().run(host, ctx)
    assert (f.check_id, f.port, f.protocol) == ("tls-weak", 443, "tls")
    assert f.evidence["reasons"] == ["accepts TLSv1, TLSv1.1", "weak cipher suite DES-CBC3-SHA",
                                     "RSA key of 1024 bits (under 2048)"]
    assert "not_tested" not in f.evidence


async def test_tls_weak_says_what_it_could_not_test(ctx):
    host = cam(tls_obs(tls_key="RSA-1024", tls_untested="TLSv1,TLSv1.1"))
    [f] = await TlsWeak().run(host, ctx)
    assert f.evidence["not_tested"] == ["TLSv1", "TLSv1.1"] and "unknown" in f.evidence["not_tested_note"]


async def test_tls_modern_server_is_not_weak(ctx):
    assert await TlsWeak().run(cam(tls_obs(), tls_obs(8443, tls_key="RSA-2048")), ctx) == []


async def test_tls_cert_expired_or_sha1_but_self_signed_alone_is_fine(ctx):
    expired = tls_obs(tls_not_after="2020-01-01T00:00:00+00:00")
    sha1 = tls_obs(8443, tls_signature_hash="sha1")
    found = await TlsCertInvalid().run(cam(expired, sha1), ctx)
    assert [(f.port, f.evidence["reasons"]) for f in found] == [
        (443, ["expired on 2020-01-01"]), (8443, ["signed with SHA1"])]
    assert "self_signed_note" in found[0].evidence
    assert await TlsCertInvalid().run(cam(tls_obs()), ctx) == []


def _cert(tmp: Path, key, days_from: int, days_to: int) -> Path:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "IP Camera")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now + dt.timedelta(days=days_from))
            .not_valid_after(now + dt.timedelta(days=days_to)).sign(key, hashes.SHA256()))
    path = tmp / f"{secrets.token_hex(4)}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return path


async def _real_tls_observation(tmp_path: Path, key, days: tuple[int, int], old: bool) -> Observation:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if old:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.load_cert_chain(_cert(tmp_path, key, *days))

    async def close(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    server = await asyncio.start_server(close, A, 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        obs = await tlsproto.probe(A, port, timeout=3)
        obs.fields["tls.versions"] = ",".join(await tlsproto.supported_versions(A, port, timeout=5))
        untested = tlsproto.untestable_versions()
        if untested:
            obs.fields["tls.untested"] = ",".join(untested)
    finally:
        server.close()
        await server.wait_closed()
    return obs


async def test_tls_checks_against_real_handshakes(ctx, tmp_path):
    old = await _real_tls_observation(tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=1024),
                                      (-4000, -30), old=True)
    weak, = await TlsWeak().run(cam(old), ctx)
    assert "RSA key of 1024 bits (under 2048)" in weak.evidence["reasons"]
    if "TLSv1" not in tlsproto.untestable_versions():
        assert weak.evidence["reasons"][0].startswith("accepts TLSv1")
    invalid, = await TlsCertInvalid().run(cam(old), ctx)
    assert invalid.evidence["reasons"][0].startswith("expired on")
    modern = await _real_tls_observation(tmp_path, ec.generate_private_key(ec.SECP256R1()), (-1, 3650), old=False)
    assert await TlsWeak().run(cam(modern), ctx) == []
    assert await TlsCertInvalid().run(cam(modern), ctx) == []


# ------------------------------------------------------------------ UPnP, debug ports

async def test_upnp_exposed_only_when_ssdp_answered(ctx):
    ssdp = Observation(A, 1900, "ssdp", transport="udp", fields={
        "ssdp.server": "Linux/4.9.0, UPnP/1.0, Portable SDK for UPnP devices/1.6.22",
        "upnp.manufacturer": "AXIS", "upnp.serial": "ACCC8E7B21F4"})
    [f] = await UpnpExposed().run(cam(ssdp), ctx)
    assert (f.port, f.protocol, f.evidence["upnp_serial"]) == (1900, "ssdp", "ACCC8E7B21F4")
    assert await UpnpExposed().run(cam(Observation(A, 1900, "ssdp", error="malformed")), ctx) == []


async def test_needless_service_is_vendor_data(ctx):
    [f] = await NeedlessService().run(cam(vendor="Xiongmai", open_ports=[80, 9527, 34567]), ctx)
    assert (f.port, f.protocol, f.evidence["service"]) == (9527, "tcp", "xiongmai-console")
    assert f.evidence["sources"][0].startswith("https://")
    # the SDK port that clients use is not needless; nor is 9527 on another vendor's device
    assert await NeedlessService().run(cam(vendor="Hikvision", open_ports=[80, 8000, 9527]), ctx) == []
    assert await NeedlessService().run(cam(vendor="Xiongmai", open_ports=[80, 34567]), ctx) == []


# ------------------------------------------------------------------ device information

def _http(port: int, path: str, status: str, body: str = "") -> Observation:
    return Observation(A, port, "http", fields={"http.path": path, "http.status": status,
                                                "http.body": body})


async def test_unauthenticated_config_from_what_the_probes_saw(ctx):
    info = ('<?xml version="1.0" encoding="UTF-8"?><DeviceInfo version="2.0" xmlns="http://www.hikvision.com/'
            'ver20/XMLSchema"><model>DS-2CD2032-I</model><serialNumber>DS-2CD2032-I2016</serialNumber>'
            "<firmwareVersion>V5.4.1</firmwareVersion><firmwareReleasedDate>build 160525</firmwareReleasedDate>"
            "</DeviceInfo>")
    [f] = await UnauthenticatedConfig().run(cam(_http(80, "/ISAPI/System/deviceInfo", "200", info)), ctx)
    assert (f.port, f.protocol, f.evidence["read"]["model"]) == (80, "http", "DS-2CD2032-I")
    asked = _http(80, "/ISAPI/System/deviceInfo", "401", "<html>401</html>")
    assert await UnauthenticatedConfig().run(cam(asked, vendor="Hikvision"), ctx) == []
    xm = Observation(A, 34567, "xmeye", fields={"xmeye.ret": "100", "xmeye.unauthenticated_info": "true",
                                                "xmeye.hardware": "NBD80S10S-KL"})
    [f] = await UnauthenticatedConfig().run(cam(xm, vendor="Xiongmai"), ctx)
    assert (f.port, f.protocol, f.evidence["read"]) == (34567, "xmeye", {"hardware": "NBD80S10S-KL"})
    checked = Observation(A, 34567, "xmeye", fields={"xmeye.ret": "103"})
    assert await UnauthenticatedConfig().run(cam(checked, vendor="Xiongmai"), ctx) == []


async def test_unauthenticated_config_dahua_magicbox(ctx):
    open_box = web.Response(text="deviceType=IPC-HDW5231R-ZE\r\nserialNumber=5E01A91PAG7F3C1\r\n")
    async with Site({"/cgi-bin/magicBox.cgi": open_box}) as site:
        host = cam(_http(site.port, "/", "200"), vendor="Dahua")
        [f] = await UnauthenticatedConfig().run(host, ctx)
        assert f.evidence["read"] == {"deviceType": "IPC-HDW5231R-ZE", "serialNumber": "5E01A91PAG7F3C1"}
    asked = web.Response(status=401, text="deviceType=x", headers={"WWW-Authenticate": 'Digest realm="x"'})
    async with Site({"/cgi-bin/magicBox.cgi": asked}) as site:
        assert await UnauthenticatedConfig().run(cam(_http(site.port, "/", "200"), vendor="Dahua"), ctx) == []


# ------------------------------------------------------------------ snapshots

async def test_snapshot_served_without_credential_is_found(ctx):
    async with Site({"/axis-cgi/jpg/image.cgi": web.Response(body=JPEG, content_type="image/jpeg")}) as site:
        [f] = await UnauthenticatedSnapshot().run(cam(_http(site.port, "/", "200"), vendor="Axis"), ctx)
        assert (f.port, f.protocol, f.evidence["path"]) == (site.port, "http", "/axis-cgi/jpg/image.cgi")
        assert site.hits == ["/axis-cgi/jpg/image.cgi"]  # the vendor's path first


async def test_snapshot_judged_by_jpeg_bytes_never_by_status(ctx):
    html_200 = web.Response(text="<html>image</html>", content_type="text/html")
    asked = web.Response(status=401, body=JPEG, headers={"WWW-Authenticate": 'Basic realm="cam"'})
    async with Site({"/snapshot.jpg": html_200, "/ISAPI/Streaming/channels/101/picture": asked}) as site:
        assert await UnauthenticatedSnapshot().run(cam(_http(site.port, "/", "200"), vendor="Hikvision"), ctx) == []
        assert 0 < len(site.hits) <= SNAPSHOT_PATHS
        assert site.hits[0] == "/ISAPI/Streaming/channels/101/picture"


def test_snapshot_paths_vendor_first_and_bounded():
    paths = exposure.snapshot_paths().for_vendor("dahua", SNAPSHOT_PATHS)
    assert paths == ["/cgi-bin/snapshot.cgi?channel=1", "/snapshot.jpg", "/snapshot.cgi"]
    assert exposure.snapshot_paths().for_vendor(None, 2) == ["/snapshot.jpg", "/snapshot.cgi"]


# ------------------------------------------------------------------ clock, end of support

def _onvif_time(offset: dt.timedelta) -> Observation:
    when = (dt.datetime.now(dt.UTC) + offset).replace(microsecond=0)
    return Observation(A, 80, "onvif", fields={"onvif.utc_time": when.isoformat()})


async def test_clock_drift_beyond_five_minutes(ctx):
    [f] = await ClockUnsynchronised().run(cam(_onvif_time(dt.timedelta(hours=-1, minutes=-2))), ctx)
    assert (f.port, f.protocol) == (80, "onvif")
    assert -3730 < f.evidence["drift_seconds"] < -3710 and "behind" in f.evidence["drift"]
    assert f.evidence["device_utc"] and f.evidence["scanner_utc"]
    assert await ClockUnsynchronised().run(cam(_onvif_time(dt.timedelta(seconds=40))), ctx) == []


async def test_end_of_support_only_from_confirmed_entries(ctx, monkeypatch):
    fixture = exposure.load_eol(DATA / "eol-fixture.yaml")
    monkeypatch.setattr(EndOfSupportFirmware, "source", staticmethod(lambda: fixture))
    check = EndOfSupportFirmware()
    old = cam(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.4.1 build 160525")
    [f] = await check.run(old, ctx)
    assert f.evidence["entry"] == "acme-line-1" and f.evidence["sources"]
    # the model matches the unconfirmed entry only: nothing
    assert await check.run(cam(vendor="Hikvision", model="DS-2CD2032-I", firmware="V5.5.0"), ctx) == []


def test_packaged_eol_entries_cite_sources_and_match_by_line():
    data = exposure.eol()
    assert all(e.sources for e in data.entries)
    assert [e.id for e in data.match("axis", "M3045-V", "6.50.1")] == ["axis-os-lts-2016"]
    assert data.match("axis", "P3245-LVE", "11.8.64") == []
    assert data.match("axis", "M3045-V", "6.5") == []


# ------------------------------------------------------------------ login-error oracle

class FakeDahuaRpc:
    """RPC2_Login global.login, two steps, as Dahua firmware answers it.  ``apart``: unknown
    user 268632070, wrong password 268632071; else 268632085 for both.  ``locked``: 268632081."""

    def __init__(self, apart: bool, locked: bool = False) -> None:
        self.apart, self.locked = apart, locked
        self.logins: list[str] = []

    async def __call__(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        params = body.get("params") or {}
        if not params.get("password"):
            return web.json_response({"error": {"code": 268632079, "message": "Component error: login challenge!"},
                                      "id": body.get("id"), "params": {"encryption": "Default", "random": "123456",
                                                                       "realm": "Login to TEST"},
                                      "result": False, "session": "abc"})
        user = params.get("userName", "")
        self.logins.append(user)
        code = 268632081 if self.locked else (268632085 if not self.apart else
                                              (268632071 if user == "admin" else 268632070))
        return web.json_response({"error": {"code": code, "message": "x"}, "id": body.get("id"),
                                  "params": {"remainLockTimes": 5 - len(self.logins)}, "result": False,
                                  "session": "abc"})


def _dahua_host(port: int) -> HostResult:
    return cam(_http(port, "/", "200"), _http(port, "/RPC2_Login", "200"), vendor="Dahua")


async def test_oracle_dahua_user_not_valid_vs_password_not_valid(ctx):
    rpc = FakeDahuaRpc(apart=True)
    async with Site({"/RPC2_Login": rpc}) as site:
        [f] = await LoginErrorOracle().run(_dahua_host(site.port), ctx)
    assert rpc.logins == [PROBE_USER, "admin"]
    assert (f.protocol, f.port, f.evidence["unknown_user"]["code"],
            f.evidence["existing_user_wrong_password"]["code"]) == ("http", site.port, 268632070, 268632071)
    assert ctx.budget.total(A) == 2


async def test_oracle_uniform_answers_are_fine_and_lockout_stops_it(ctx):
    rpc = FakeDahuaRpc(apart=False)
    async with Site({"/RPC2_Login": rpc}) as site:
        assert await LoginErrorOracle().run(_dahua_host(site.port), ctx) == []
        assert rpc.logins == [PROBE_USER, "admin"]
    rpc = FakeDahuaRpc(apart=True, locked=True)
    budget = LoginBudget()
    ctx.budget = budget
    async with Site({"/RPC2_Login": rpc}) as site:
        assert await LoginErrorOracle().run(_dahua_host(site.port), ctx) == []
        assert rpc.logins == [PROBE_USER] and budget.is_locked(A, site.port, "http")


async def test_oracle_never_passes_the_account_cap(ctx):
    rpc = FakeDahuaRpc(apart=True)
    async with Site({"/RPC2_Login": rpc}) as site:
        for _ in range(4):  # the credential checks already spent the cap on "admin"
            assert await ctx.budget.take(A, site.port, "http", "admin", 6)
        assert not await ctx.budget.take(A, site.port, "http", "admin", 6)  # 4 at most, whatever asked
        assert await LoginErrorOracle().run(_dahua_host(site.port), ctx) == []
    assert rpc.logins == [PROBE_USER]
