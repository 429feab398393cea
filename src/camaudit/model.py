"""The plain data that flows between the stages of a scan.

targets -> scope guard -> discovery -> probes -> identify -> checks -> store -> reports

Each stage takes plain data from the one before and hands plain data on.  Nothing in here
does I/O.  Everything a device sent is bounded before it lands here (see ``MAX_RAW``).

Observation field names are a contract between the protocol clients (which write them) and
the fingerprints (which read them).  Keys are namespaced by protocol; the list below is the
vocabulary, and a client may add keys of its own namespace.

    http.*     status, server, title, www_authenticate, auth_scheme (basic|digest|none), realm,
               location, content_type, body (first 2 KiB of text), path (the path probed),
               set_cookie
    tls.*      version (e.g. TLSv1.3), cipher, subject / issuer (the whole distinguished name,
               RFC 4514), subject_cn, subject_o, subject_ou, issuer_cn, issuer_o, issuer_ou
               (several values joined with " | "), self_signed (true|false),
               not_before, not_after (ISO 8601), expired (true|false), san, versions (accepted
               protocol versions, comma-separated), untested (versions local OpenSSL cannot offer)
    rtsp.*     status, server, public (the OPTIONS Public header), www_authenticate,
               auth_scheme, realm, path
    onvif.*    manufacturer, model, firmware, serial, hardware_id, auth_required (true|false),
               utc_time (ISO 8601 from GetSystemDateAndTime), soap_fault
    wsd.*      types, scopes, xaddrs  (WS-Discovery ProbeMatch, unicast to the target)
    ssdp.*     server, st, usn, location;  upnp.* manufacturer, model, model_number, serial
    telnet.*   banner (text seen before the login prompt, IAC stripped), prompt
    ftp.*      banner, anonymous (true|false, only when the check tried it)
    ssh.*      banner (the identification string), software
    snmp.*     community (the one that answered), sysdescr, sysobjectid, sysname, syscontact,
               enterprise (the IANA private enterprise number sysobjectid lies under)
    neigh.*    mac (from the kernel's neighbour table, only for a target on the same link)
    hiksdk.*   response_hex (first bytes answered on the Hikvision SDK port), magic
    dvrip.*    response_hex, magic   (Dahua private protocol, 37777)
    xmeye.*    ret, response_hex, session  (Xiongmai NetSurveillance / Sofia, 34567)
    device.*   vendor, model, firmware, serial, mac, kind : facts read from an authenticated
               vendor API after a credential was found (``enrich`` step); strongest evidence.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RAW = 4096  # characters of raw banner/headers kept per observation


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}[self.value]

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls(text.lower())
        except ValueError:
            raise ValueError(
                f"unknown severity {text!r}; use one of: "
                + ", ".join(s.value for s in cls)
            ) from None


class DeviceKind(str, enum.Enum):
    CAMERA = "camera"
    NVR = "nvr"
    DVR = "dvr"
    OTHER = "other"  # identified as something that is not a video device (router, web server)
    UNKNOWN = "unknown"

    @property
    def is_video(self) -> bool:
        return self in (DeviceKind.CAMERA, DeviceKind.NVR, DeviceKind.DVR)


class AuthOutcome(str, enum.Enum):
    """What one login attempt told us."""

    SUCCESS = "success"  # the credential works
    FAILURE = "failure"  # clearly rejected
    LOCKED = "locked"  # a lockout sign: account or source blocked, 423/403 after failures, "locked" text
    NO_AUTH = "no_auth"  # the resource needs no credential at all
    ERROR = "error"  # timeout, reset, malformed answer: we learnt nothing


@dataclass(slots=True)
class AuthResult:
    outcome: AuthOutcome
    detail: str = ""  # short, never contains the password
    status: int | None = None  # protocol status code when there is one


@dataclass(slots=True)
class Observation:
    """What one probe saw on one port. Facts only, no judgement."""

    address: str
    port: int
    protocol: str  # http, https, tls, rtsp, onvif, wsd, ssdp, telnet, ftp, ssh, snmp, hiksdk, dvrip, xmeye
    transport: str = "tcp"  # tcp | udp
    fields: dict[str, str] = field(default_factory=dict)
    raw: str = ""  # bounded to MAX_RAW characters
    error: str | None = None  # timeout | reset | oversized | malformed | refused | ...

    def __post_init__(self) -> None:
        if len(self.raw) > MAX_RAW:
            self.raw = self.raw[:MAX_RAW]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Identity:
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None
    kind: DeviceKind = DeviceKind.UNKNOWN
    confidence: float = 0.0  # 0..1
    serial: str | None = None
    mac: str | None = None
    evidence: list[str] = field(default_factory=list)  # "fingerprint-id@protocol:port" lines

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


@dataclass(slots=True)
class Credential:
    """A working credential found by a check. Kept in memory for the enrich step only;
    stored and reported redacted (see ``redact``)."""

    protocol: str
    port: int
    username: str
    password: str
    path: str = ""  # the resource it unlocked (HTTP path, RTSP route)
    is_vendor_default: bool = False

    def redacted(self) -> str:
        return f"{self.username}:{redact(self.password)}"


def redact(secret: str) -> str:
    """Keep a hint for the reader, never the secret: at most a third of it, at most three
    characters ('admin12345' -> 'adm***', '12345' -> '1***', '123' -> '1***', 'ab' -> '***')."""
    if not secret:
        return "(empty)"
    keep = min(3, len(secret) // 3)
    return secret[:keep] + "***"


@dataclass(slots=True)
class Finding:
    """One check's verdict on one device (and service)."""

    check_id: str
    address: str
    severity: Severity
    port: int | None = None
    protocol: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)  # secrets redacted
    clauses: list[str] = field(default_factory=list)  # requirement clause ids it bears on
    cves: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, int | None, str | None]:
        return (self.check_id, self.address, self.port, self.protocol)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


@dataclass(slots=True)
class HostResult:
    """Everything learnt about one address during one scan."""

    address: str
    hostname: str | None = None
    open_ports: list[int] = field(default_factory=list)  # TCP
    udp_ports: list[int] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    identity: Identity = field(default_factory=Identity)
    findings: list[Finding] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)  # in memory only
    errors: list[str] = field(default_factory=list)  # hostile or broken answers, timeouts: reported
    checks_run: list[str] = field(default_factory=list)
    assess_all: bool = False  # run video-only checks even when the host is not a video device

    def observations_for(self, protocol: str) -> list[Observation]:
        return [o for o in self.observations if o.protocol == protocol]

    def ports_for(self, protocol: str) -> list[int]:
        return sorted({o.port for o in self.observations if o.protocol == protocol and not o.error})
