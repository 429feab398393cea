"""The declared fleet of emulated devices, and the ground truth derived from it.

A fleet file (YAML, or JSON) lists devices; each names the emulator ``family`` that answers for
it, its facts (vendor, model, firmware, serial, MAC), the services it opens, the credentials it
accepts, what it serves anonymously and its lockout policy.  ``ground_truth`` turns a fleet into
the JSON described in docs/CONTRACTS.md; the expected findings are derived from the declaration
so that they can never disagree with what the emulators actually do.
"""

from __future__ import annotations

import ipaddress
import random
import string
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from camaudit.knowledge import load_yaml

Family = Literal["hikvision", "dahua", "xiongmai", "uniview", "axis", "onvif-generic",
                 "mikrotik", "nginx", "hostile"]
Protocol = Literal["http", "https", "rtsp", "telnet", "ftp", "ssh", "snmp", "wsd", "ssdp",
                   "upnp", "hiksdk", "dvrip", "xmeye", "xm-console"]
Hostile = Literal["oversized-headers", "drip", "xml-bomb", "garbage-rtsp", "reset"]
UDP_PROTOCOLS = {"snmp", "wsd", "ssdp"}
LOGIN_PROTOCOLS = {"http", "https", "rtsp", "onvif", "telnet", "ftp", "ssh", "xmeye"}
NEEDLESS = {"xm-console"}  # vendor debug ports (knowledge/data/needless_ports.yaml)
MAX_CLOCK_DRIFT = 300.0  # seconds: clock-unsynchronised beyond this
SNAPSHOT_FAMILIES = {"hikvision", "dahua", "axis", "xiongmai"}  # emulators with a snapshot path
INFO_FAMILIES = {"hikvision", "dahua", "xiongmai"}  # emulators that can leak device info
ORACLE_FAMILIES = {"dahua", "xiongmai"}  # emulators that can word failed logins apart


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol: Protocol
    port: int = Field(ge=1, le=65535)

    @property
    def transport(self) -> str:
        return "udp" if self.protocol in UDP_PROTOCOLS else "tcp"


class Credential(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: Literal["http", "https", "rtsp", "onvif", "telnet", "ftp", "ssh", "xmeye"]
    port: int
    username: str
    password: str
    strength: Literal["vendor-default", "weak", "strong"]


class Lockout(BaseModel):
    """Failed logins from one source address within ``window`` s lock it for ``duration`` s."""

    model_config = ConfigDict(extra="forbid")
    threshold: int = Field(ge=1)
    window: float = Field(gt=0)
    duration: float = Field(gt=0)


class TlsProfile(BaseModel):
    """How the device's HTTPS is set up: lowest protocol version accepted, certificate key and
    validity.  The default is what a current camera does."""

    model_config = ConfigDict(extra="forbid")
    min_version: Literal["TLSv1", "TLSv1.1", "TLSv1.2"] = "TLSv1.2"
    key: Literal["ec-p256", "rsa-1024", "rsa-2048"] = "ec-p256"
    validity: Literal["valid", "expired", "not-yet-valid"] = "valid"

    @property
    def weak(self) -> bool:
        return self.min_version != "TLSv1.2" or self.key == "rsa-1024"

    @property
    def invalid(self) -> bool:
        return self.validity != "valid"


class Device(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    address: str
    family: Family
    role: str = ""
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    kind: Literal["camera", "nvr", "dvr", "other", "unknown"] = "unknown"
    serial: str | None = None
    mac: str | None = None
    services: list[Service]
    credentials: list[Credential] = []
    # served with no credential at all: snapshot = a still image on the web port, info = device
    # information (Hikvision ISAPI deviceInfo, Dahua magicBox, Sofia SystemInfo with session 0)
    anonymous: list[Literal["rtsp", "onvif", "ftp", "snapshot", "info"]] = []
    onvif: bool = False  # ONVIF device service on the web port(s)
    snmp_community: str | None = None
    lockout: Lockout | None = None
    hostile: Hostile | None = None
    cves: list[str] = []  # CVEs the declared firmware is known to carry
    tls: TlsProfile = TlsProfile()  # HTTPS set-up on the https ports
    login_error_oracle: bool = False  # failed logins say "no such user" apart from "bad password"
    clock_offset: float = 0.0  # seconds the device clock is ahead (+) or behind (-)
    end_of_support: bool = False  # the firmware line is past the vendor's end of support

    @field_validator("address")
    @classmethod
    def _loopback(cls, v: str) -> str:
        ip = ipaddress.ip_address(v)
        if ip.version != 4 or not ip.is_loopback:
            raise ValueError(f"{v}: lab devices live on 127.0.0.0/8 only")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Device":
        ports = [(s.transport, s.port) for s in self.services]
        if len(ports) != len(set(ports)):
            raise ValueError(f"{self.name}: two services on one port")
        open_ports = {s.port for s in self.services}
        for c in self.credentials:
            if c.port not in open_ports:
                raise ValueError(f"{self.name}: credential for closed port {c.port}")
        if "snmp" in self.protocols() and not self.snmp_community:
            raise ValueError(f"{self.name}: snmp service needs snmp_community")
        for what, families in (("snapshot", SNAPSHOT_FAMILIES), ("info", INFO_FAMILIES)):
            if what in self.anonymous and self.family not in families:
                raise ValueError(f"{self.name}: the {self.family} emulator has no anonymous {what}")
        if self.login_error_oracle and self.family not in ORACLE_FAMILIES:
            raise ValueError(f"{self.name}: the {self.family} emulator words every failed login alike")
        return self

    def protocols(self) -> set[str]:
        return {s.protocol for s in self.services}

    def port_of(self, protocol: str) -> int | None:
        return next((s.port for s in self.services if s.protocol == protocol), None)

    def users(self, service: str) -> dict[str, str]:
        """username -> password accepted on ``service``."""
        return {c.username: c.password for c in self.credentials if c.service == service}


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fleet: str = "custom"
    devices: list[Device]

    @model_validator(mode="after")
    def _unique(self) -> "Fleet":
        seen: set[str] = set()
        for d in self.devices:
            if d.address in seen:
                raise ValueError(f"address {d.address} used twice")
            seen.add(d.address)
        names = [d.name for d in self.devices]
        if len(names) != len(set(names)):
            raise ValueError("device names must be unique")
        return self

    def device(self, address_or_name: str) -> Device:
        for d in self.devices:
            if address_or_name in (d.address, d.name):
                return d
        raise KeyError(address_or_name)

    def relocated(self, prefix: str) -> "Fleet":
        """The same fleet on another /24 (``prefix`` like "127.66.0"), keeping each last octet:
        tests run their own lab beside one a user left running on 127.20.0.0/24."""
        devices = [d.model_copy(update={"address": f"{prefix}.{d.address.rsplit('.', 1)[1]}"})
                   for d in self.devices]
        return Fleet(fleet=self.fleet, devices=devices)


def load_fleet(path_or_name: str | Path) -> Fleet:
    """Load ``"default"`` (the shipped fleet) or a YAML/JSON fleet file."""
    if str(path_or_name) == "default":
        text = resources.files("camaudit.lab").joinpath("fleet-default.yaml").read_text("utf-8")
    else:
        text = Path(path_or_name).read_text("utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path_or_name}: a fleet file is a mapping with 'devices'")
    return Fleet.model_validate(data)


# --------------------------------------------------------------------------- ground truth

def expected_findings(d: Device) -> list[dict[str, Any]]:
    """The findings a correct scanner reports on ``d``, derived from its declaration."""
    if d.hostile or d.kind not in ("camera", "nvr", "dvr"):
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for c in d.credentials:
        if c.strength == "strong":
            continue
        check = "default-credentials" if c.strength == "vendor-default" else "weak-credentials"
        key = (check, c.service, c.port)
        if key not in seen:
            seen.add(key)
            out.append({"check": check, "protocol": c.service, "port": c.port})
    for proto in ("rtsp", "onvif"):
        if proto in d.anonymous:
            port = d.port_of("rtsp") if proto == "rtsp" else (d.port_of("http") or d.port_of("https"))
            out.append({"check": f"{proto}-anonymous", "protocol": proto, "port": port})
    if "http" in d.protocols():
        out.append({"check": "cleartext-http", "protocol": "http", "port": d.port_of("http")})
    if "telnet" in d.protocols():
        out.append({"check": "cleartext-telnet", "protocol": "telnet", "port": d.port_of("telnet")})
    if "ftp" in d.protocols():
        out.append({"check": "cleartext-ftp", "protocol": "ftp", "port": d.port_of("ftp")})
        if "ftp" in d.anonymous:
            out.append({"check": "ftp-anonymous", "protocol": "ftp", "port": d.port_of("ftp")})
    if d.snmp_community in ("public", "private"):
        out.append({"check": "snmp-default-community", "protocol": "snmp", "port": d.port_of("snmp")})
    if d.lockout is None and any(c.service in LOGIN_PROTOCOLS for c in d.credentials):
        out.append({"check": "no-login-lockout"})
    for cve in d.cves:
        out.append({"check": "vulnerable-firmware", "cves": [cve]})
    return out + _exposure_findings(d)


def _exposure_findings(d: Device) -> list[dict[str, Any]]:
    """TLS, exposure and life-cycle weaknesses declared on a video device."""
    out: list[dict[str, Any]] = []
    web = d.port_of("http") or d.port_of("https")
    web_proto = "http" if d.port_of("http") else "https"
    for s in d.services:
        if s.protocol == "https":
            if d.tls.weak:
                out.append({"check": "tls-weak", "protocol": "tls", "port": s.port})
            if d.tls.invalid:
                out.append({"check": "tls-cert-invalid", "protocol": "tls", "port": s.port})
        elif s.protocol == "ssdp":
            out.append({"check": "upnp-exposed", "protocol": "ssdp", "port": s.port})
        elif s.protocol in NEEDLESS:
            out.append({"check": "needless-service", "protocol": "tcp", "port": s.port})
    if "snapshot" in d.anonymous and web:
        out.append({"check": "unauthenticated-snapshot", "protocol": web_proto, "port": web})
    if "info" in d.anonymous:
        if d.family == "xiongmai":
            out.append({"check": "unauthenticated-config", "protocol": "xmeye",
                        "port": d.port_of("xmeye")})
        elif web:
            out.append({"check": "unauthenticated-config", "protocol": web_proto, "port": web})
    if d.login_error_oracle:
        port, proto = ((d.port_of("xmeye"), "xmeye") if d.family == "xiongmai"
                       else (web, web_proto))
        out.append({"check": "login-error-oracle", "protocol": proto, "port": port})
    if d.onvif and web and abs(d.clock_offset) > MAX_CLOCK_DRIFT:
        out.append({"check": "clock-unsynchronised", "protocol": "onvif", "port": web})
    if d.end_of_support:
        out.append({"check": "end-of-support-firmware"})
    return out


def ground_truth(fleet: Fleet) -> dict[str, Any]:
    """The ground-truth document of docs/CONTRACTS.md (never read by the scanner)."""
    devices = []
    for d in fleet.devices:
        devices.append({
            "name": d.name, "address": d.address, "role": d.role, "vendor": d.vendor,
            "model": d.model, "firmware": d.firmware, "kind": d.kind, "serial": d.serial,
            "mac": d.mac,
            "tcp_ports": sorted(s.port for s in d.services if s.transport == "tcp"),
            "udp_ports": sorted(s.port for s in d.services if s.transport == "udp"),
            "credentials": [{"service": c.service, "port": c.port, "username": c.username,
                             "password": c.password,
                             "vendor_default": c.strength == "vendor-default"}
                            for c in d.credentials],
            "hostile": d.hostile,
            "expected_findings": expected_findings(d),
        })
    return {"fleet": fleet.fleet, "devices": devices}


# --------------------------------------------------------------------------- big fleets

# Relative weights of the default fleet's devices when a big fleet is generated from them.
_WEIGHTS = {"hikvision": 6, "dahua": 5, "xiongmai": 4, "uniview": 2, "axis": 3,
            "onvif-generic": 2, "mikrotik": 1, "nginx": 1, "hostile": 1}


def _serial_for(rng: random.Random, t: Device) -> str | None:
    if t.serial is None:
        return None
    if t.family == "hikvision" and t.model and t.serial.startswith(t.model):
        digits = "".join(rng.choices(string.digits, k=9))
        return f"{t.model}{t.serial[len(t.model):len(t.model) + 12]}{digits}"
    alphabet = string.ascii_uppercase + string.digits if any(
        ch.isalpha() for ch in t.serial) else string.digits
    keep = t.serial[: max(3, len(t.serial) // 3)]
    return keep + "".join(rng.choices(alphabet, k=len(t.serial) - len(keep)))


def _mac_for(rng: random.Random, t: Device) -> str | None:
    if t.mac is None:
        return None
    oui = t.mac[:8]
    return oui + "".join(f":{rng.randrange(256):02x}" for _ in range(3))


def _strong_password(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=14)) + "#7"


def generate_fleet(count: int, network: str = "127.21.0.0/16", seed: int = 2023) -> Fleet:
    """A deterministic fleet of ``count`` devices mixing the default fleet's families,
    weak and secure ones, on consecutive addresses of ``network`` (inside 127.0.0.0/8)."""
    net = ipaddress.ip_network(network)
    if not (net.is_loopback and net.version == 4):
        raise ValueError(f"{network}: lab networks must be inside 127.0.0.0/8")
    hosts = (str(h) for h in net.hosts() if h.packed[-1] not in (0, 255))
    rng = random.Random(seed)
    templates = load_fleet("default").devices
    weights = [_WEIGHTS[t.family] for t in templates]
    devices = []
    for i in range(count):
        try:
            address = next(hosts)
        except StopIteration:
            raise ValueError(f"{network} has fewer than {count} usable addresses") from None
        t = rng.choices(templates, weights)[0]
        serial = _serial_for(rng, t)
        mac = _mac_for(rng, t)
        if t.family == "axis" and mac:
            serial = mac.replace(":", "").upper()
        creds = [c.model_copy(update={"password": _strong_password(rng)})
                 if c.strength == "strong" else c for c in t.credentials]
        devices.append(t.model_copy(deep=True, update={
            "name": f"{t.name.rsplit('-', 1)[0]}-{i:04d}", "address": address,
            "serial": serial, "mac": mac, "credentials": creds}))
    return Fleet(fleet=f"generated-{count}-{seed}", devices=devices)
