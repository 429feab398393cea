"""The lab process: binds every declared device's listeners on its loopback address, writes
``ground-truth.json`` then ``ready.json`` to the state directory, and serves until SIGTERM.

    python -m camaudit.lab.server --fleet default --state-dir /tmp/lab
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import errno
import json
import logging
import os
import resource
import signal
import ssl
import sys
import uuid
import warnings
from pathlib import Path
from typing import Awaitable, Callable

import asyncssh
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from camaudit.lab import hostile
from camaudit.lab.auth import AttemptRecorder, DigestRealm, Gate, LockoutState
from camaudit.lab.discovery import Ssdp, WsDiscovery
from camaudit.lab.families import WEB, UpnpWeb
from camaudit.lab.fleet import SNAPSHOT_FAMILIES, Device, Fleet, ground_truth, load_fleet
from camaudit.lab.media import Clip, load_clip, make_clip, make_snapshot
from camaudit.lab.onvif import OnvifInfo, OnvifService
from camaudit.lab.rtsp import RtspConfig, RtspSession
from camaudit.lab.snmp import SnmpAgent
from camaudit.lab.textproto import FtpSession, TelnetSession, XmConsoleSession
from camaudit.lab.vendorports import DvripSession, HikSdkSession, SofiaInfo, SofiaSession
from camaudit.lab.wire import MAX_HEAD, serve_http

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LabBindError(RuntimeError):
    pass


STREAM_PATHS = {
    "hikvision": ("/Streaming/Channels/101", ("/Streaming/Channels/", "/ISAPI/Streaming/channels/")),
    "dahua": ("/cam/realmonitor?channel=1&subtype=0", ("/cam/realmonitor",)),
    "axis": ("/axis-media/media.amp", ("/axis-media/media.amp",)),
    "uniview": ("/media/video1", ("/media/video1", "/media/video2")),
    "onvif-generic": ("/main", ("/main", "/sub", "/")),
    "xiongmai": ("/user=admin&password=&channel=1&stream=0.sdp", ()),
}
ONVIF_MAKER = {"hikvision": "HIKVISION", "dahua": "Dahua", "axis": "AXIS", "uniview": "Uniview",
               "onvif-generic": "Milesight"}
SSH_VERSION = {"hikvision": "dropbear_2014.63", "mikrotik": "ROSSSH"}


TLS_MIN = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
           "TLSv1.2": ssl.TLSVersion.TLSv1_2}


def self_signed(d: Device, directory: Path) -> ssl.SSLContext:
    """A fresh self-signed certificate for ``d`` (CN as the vendor names it) and a server
    context as its ``tls`` profile declares (TLS 1.2+, P-256 key, in date by default; old
    firmware: TLS 1.0, RSA-1024, expired)."""
    profile = d.tls
    key = (rsa.generate_private_key(public_exponent=65537, key_size=int(profile.key[4:]))
           if profile.key.startswith("rsa") else ec.generate_private_key(ec.SECP256R1()))
    mac = (d.mac or "000000000000").replace(":", "").lower()
    cn = f"axis-{mac}" if d.family == "axis" else (d.serial or d.name) if d.family != "mikrotik" else "router"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    start = {"valid": now - dt.timedelta(days=1), "expired": now - dt.timedelta(days=3650),
             "not-yet-valid": now + dt.timedelta(days=30)}[profile.validity]
    end = now - dt.timedelta(days=30) if profile.validity == "expired" else start + dt.timedelta(days=3650)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{d.address}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
                     + cert.public_bytes(serialization.Encoding.PEM))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if profile.weak:  # old versions and short keys need OpenSSL's security level 0
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        ctx.minimum_version = TLS_MIN[profile.min_version]
    ctx.load_cert_chain(path)
    return ctx


class SshServer(asyncssh.SSHServer):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.source = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.source = (conn.get_extra_info("peername") or ("", 0))[0]

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.gate.check("ssh", self.source, username, password) == "success"


def _ssh_session(process: asyncssh.SSHServerProcess) -> None:
    process.stdout.write("\r\nLogin successful.\r\n")
    process.exit(0)


class LabServer:
    def __init__(self, fleet: Fleet, state_dir: Path) -> None:
        self.fleet = fleet
        self.state_dir = state_dir
        self.recorder = AttemptRecorder(state_dir / "attempts.json")
        self.servers: list[asyncio.AbstractServer | asyncssh.SSHAcceptor] = []
        self.transports: list[asyncio.BaseTransport] = []
        self.clip: Clip | None = None
        self.jpeg = b""

    async def _tcp(self, d: Device, port: int, handler: StreamHandler, what: str,
                   ssl_ctx: ssl.SSLContext | None = None) -> None:
        try:
            srv = await asyncio.start_server(handler, d.address, port, limit=MAX_HEAD * 2,
                                             reuse_address=True, ssl=ssl_ctx, backlog=256)
        except OSError as e:
            raise self._bind_error(d, port, "tcp", what, e) from None
        self.servers.append(srv)

    async def _udp(self, d: Device, port: int, factory: Callable[[], asyncio.DatagramProtocol],
                   what: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(factory, local_addr=(d.address, port))
        except OSError as e:
            raise self._bind_error(d, port, "udp", what, e) from None
        self.transports.append(transport)

    def _bind_error(self, d: Device, port: int, transport: str, what: str, e: OSError) -> LabBindError:
        if e.errno == errno.EADDRINUSE:
            return LabBindError(f"{d.address}:{port}/{transport} ({d.name} {what}) is already in use: is "
                                "another lab running on these addresses? ('camaudit lab status', "
                                "'camaudit lab down')")
        return LabBindError(f"cannot bind {d.address}:{port}/{transport} ({d.name} {what}): {e}")

    def _gate(self, d: Device) -> Gate:
        accounts = {svc: d.users(svc) for svc in ("http", "https", "rtsp", "onvif", "telnet",
                                                   "ftp", "ssh", "xmeye")}
        if d.family == "dahua":
            accounts["dvrip"] = d.users("http")
        if d.family == "xiongmai":
            accounts["rtsp"] = d.users("xmeye")
        return Gate(d.address, self.recorder, LockoutState(d.lockout), accounts)

    def _onvif(self, d: Device, gate: Gate) -> OnvifService | None:
        if not d.onvif:
            return None
        scopes = ("onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
                  "onvif://www.onvif.org/Profile/T", f"onvif://www.onvif.org/hardware/{d.model}",
                  f"onvif://www.onvif.org/name/{ONVIF_MAKER.get(d.family, d.vendor)}",
                  "onvif://www.onvif.org/location/country/vietnam")
        info = OnvifInfo(manufacturer=ONVIF_MAKER.get(d.family, d.vendor or ""), model=d.model or "",
                         firmware=d.firmware or "", serial=d.serial or "", hardware_id=(d.model or "")[:12],
                         scopes=scopes, rtsp_uri_path=STREAM_PATHS[d.family][0])
        return OnvifService(info, gate, anonymous="onvif" in d.anonymous, clock_offset=d.clock_offset)

    def _rtsp_config(self, d: Device, web_realm: str | None) -> RtspConfig:
        paths = STREAM_PATHS[d.family][1]
        if d.family == "xiongmai":
            return RtspConfig((), None, None, "RTSP Session", url_auth=True)
        if "rtsp" in d.anonymous:
            return RtspConfig(paths, None, None, "Session streamed by \"Network Camera\"")
        if d.family == "hikvision":
            return RtspConfig(paths, DigestRealm(web_realm or "IP Camera", basic_too=True), None,
                              "Media Presentation")
        if d.family == "dahua":
            return RtspConfig(paths, DigestRealm(f"Login to {d.serial}", qop=False), "Rtsp Server/3.0",
                              "Media Server")
        if d.family == "axis":
            modern = int((d.firmware or "0").split(".")[0]) >= 9
            return RtspConfig(paths, DigestRealm(f"AXIS_{(d.mac or '').replace(':', '').upper()}", qop=False),
                              "GStreamer RTSP server" if modern else None, "Session streamed with GStreamer")
        return RtspConfig(paths, DigestRealm("RTSP SERVER", qop=False), "Rtsp Server/2.0", "RTSP Session")

    async def add_device(self, d: Device) -> None:
        gate = self._gate(d)
        if d.hostile:
            await self._add_hostile(d)
            return
        onvif = self._onvif(d, gate)
        web = WEB[d.family](d, gate, onvif) if d.family in WEB else None
        if web is not None:
            web.jpeg = self.jpeg
        for svc in d.services:
            p = svc.protocol
            if p in ("http", "https") and web is not None:
                tls = p == "https"
                ctx = self_signed(d, self.state_dir / "tls") if tls else None

                async def http_handler(r, w, web=web, tls=tls) -> None:
                    await serve_http(r, w, web.handle, server=web.server, tls=tls)

                await self._tcp(d, svc.port, http_handler, p, ctx)
            elif p == "upnp":
                upnp = UpnpWeb(d, gate, None)

                async def upnp_handler(r, w, upnp=upnp) -> None:
                    await serve_http(r, w, upnp.handle, server=upnp.server)

                await self._tcp(d, svc.port, upnp_handler, p)
            elif p == "rtsp":
                web_realm = getattr(web, "realm", None)
                cfg = self._rtsp_config(d, web_realm.realm if web_realm is not None else None)

                async def rtsp_handler(r, w, cfg=cfg) -> None:
                    await RtspSession(cfg, gate, self.clip, r, w).run()

                await self._tcp(d, svc.port, rtsp_handler, p)
            elif p == "telnet":
                telnet = TelnetSession(gate, "(none)", "BusyBox v1.16.1 (2014-12-01 10:16:48 CST)")
                await self._tcp(d, svc.port, telnet.run, p)
            elif p == "ftp":
                ftp = FtpSession(gate, "(vsFTPd 2.3.4)" if d.family != "uniview" else "FTP server ready",
                                 "ftp" in d.anonymous, ("snapshot_20240101_080000.jpg", "record"))
                await self._tcp(d, svc.port, ftp.run, p)
            elif p == "ssh":
                key = asyncssh.generate_private_key("ssh-ed25519")
                try:
                    acceptor = await asyncssh.create_server(
                        lambda gate=gate: SshServer(gate), d.address, svc.port, server_host_keys=[key],
                        server_version=SSH_VERSION.get(d.family, "OpenSSH_7.4"),
                        process_factory=_ssh_session, login_timeout=30, reuse_address=True)
                except OSError as e:
                    raise self._bind_error(d, svc.port, "tcp", p, e) from None
                self.servers.append(acceptor)
            elif p == "hiksdk":
                await self._tcp(d, svc.port, HikSdkSession().run, p)
            elif p == "dvrip":
                await self._tcp(d, svc.port, DvripSession(gate).run, p)
            elif p == "xmeye":
                sofia = SofiaSession(gate, SofiaInfo(d.model or "", d.firmware or "", d.serial or ""),
                                     info_without_login="info" in d.anonymous,
                                     words_failures_apart=d.login_error_oracle)
                await self._tcp(d, svc.port, sofia.run, p)
            elif p == "xm-console":
                await self._tcp(d, svc.port, XmConsoleSession(gate).run, p)
            elif p == "snmp":
                agent = lambda d=d, gate=gate: SnmpAgent(  # noqa: E731
                    gate, d.snmp_community or "", f"{d.vendor} {d.model}".strip(),
                    "1.3.6.1.4.1.39165.1.1" if d.family == "hikvision" else "1.3.6.1.4.1.8072.3.2.10",
                    d.model or d.name, syscontact="admin", syslocation=d.role)
                await self._udp(d, svc.port, agent, p)
            elif p == "wsd":
                web_port = d.port_of("http") or d.port_of("https") or 80
                scheme = "http" if d.port_of("http") else "https"
                xaddr = f"{scheme}://{d.address}{'' if web_port in (80, 443) else f':{web_port}'}/onvif/device_service"
                info = self._onvif(d, gate)
                scopes = info.info.scopes if info else ()
                ep = str(uuid.uuid5(uuid.NAMESPACE_OID, f"wsd-{d.serial or d.name}"))
                await self._udp(d, svc.port, lambda: WsDiscovery(ep, xaddr, scopes), p)
            elif p == "ssdp":
                upnp_port = d.port_of("upnp") or 80
                location = f"http://{d.address}:{upnp_port}/rootdesc1.xml"
                dev_uuid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"upnp-{d.serial}"))
                await self._udp(d, svc.port, lambda: Ssdp(dev_uuid, location, UpnpWeb.server), p)

    async def _add_hostile(self, d: Device) -> None:
        seed = int.from_bytes(bytes(int(x) for x in d.address.split(".")), "big")
        for svc in d.services:
            rtsp = svc.protocol == "rtsp"
            handler: StreamHandler | None = {
                "oversized-headers": None if rtsp else hostile.oversized_headers,
                "drip": hostile.drip(hostile.DRIP_RTSP if rtsp else hostile.DRIP_HTTP),
                "xml-bomb": None if rtsp else hostile.xml_bomb,
                "garbage-rtsp": hostile.garbage(seed + svc.port),
                "reset": hostile.reset(hostile.RESET_RTSP if rtsp else hostile.RESET_HTTP),
            }[d.hostile or ""]
            if handler is None:
                raise LabBindError(f"{d.name}: hostile mode {d.hostile} has no {svc.protocol} behaviour")
            await self._tcp(d, svc.port, handler, f"hostile {d.hostile}")

    def listener_count(self) -> int:
        return len(self.servers) + len(self.transports)

    async def start(self) -> None:
        if any(d.services and d.family != "hostile" and "rtsp" in d.protocols() for d in self.fleet.devices):
            self.clip = load_clip(make_clip(self.state_dir / "clip.h264"))
        if any(d.family in SNAPSHOT_FAMILIES for d in self.fleet.devices):
            self.jpeg = make_snapshot(self.state_dir / "snapshot.jpg")
        for d in self.fleet.devices:
            await self.add_device(d)

    async def close(self) -> None:
        for t in self.transports:
            t.close()
        for s in self.servers:
            s.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(s.wait_closed() for s in self.servers
                                                    if isinstance(s, asyncio.AbstractServer))), 2)


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1), "utf-8")
    os.replace(tmp, path)


async def amain(fleet: Fleet, state_dir: Path) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lab = LabServer(fleet, state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = loop.time()
    try:
        await lab.start()
    except (LabBindError, RuntimeError, OSError) as e:
        _write_json(state_dir / "error.json", {"error": str(e)})
        await lab.close()
        return 1
    _write_json(state_dir / "ground-truth.json", ground_truth(fleet))
    lab.recorder.flush()
    _write_json(state_dir / "ready.json", {
        "pid": os.getpid(), "fleet": fleet.fleet, "devices": len(fleet.devices),
        "listeners": lab.listener_count(), "startup_seconds": round(loop.time() - started, 3),
        "addresses": [d.address for d in fleet.devices],
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    await stop.wait()
    await lab.close()
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "ready.json").unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m camaudit.lab.server", description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", default="default", help='"default" or a fleet file (YAML/JSON)')
    ap.add_argument("--state-dir", required=True, type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fleet = load_fleet(args.fleet)
    except (OSError, ValueError) as e:
        _write_json(args.state_dir / "error.json", {"error": f"bad fleet {args.fleet}: {e}"})
        return 2
    return asyncio.run(amain(fleet, args.state_dir))


if __name__ == "__main__":
    sys.exit(main())
