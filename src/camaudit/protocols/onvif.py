"""ONVIF device and media service calls with hand-built SOAP 1.2 envelopes.

Fixed templates for GetSystemDateAndTime, GetDeviceInformation, GetNetworkInterfaces,
GetCapabilities, GetProfiles and GetStreamUri; WS-Security UsernameToken with PasswordDigest
(Base64(SHA1(nonce + created + password)), created in the device's clock).  When a device asks
for HTTP Digest instead (ONVIF allows both) the call is repeated once with it.  Answers are parsed
with defusedxml: a DTD, an entity bomb or an external entity is an ``xml-attack`` error.
Service addresses (XAddrs) that a device reports are used for their path only: requests always
go to the scanned address and port.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import httpx

from camaudit.model import AuthOutcome, AuthResult, Observation
from camaudit.protocols import digest
from camaudit.protocols._net import ProbeError
from camaudit.protocols.http import error_kind, fetch, local, make_client, parse_xml, xml_values

DEVICE_PATH = "/onvif/device_service"
SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
WSU = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-wssecurity-utility-1.0.xsd")
PASSWORD_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
                   "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
BASE64 = ("http://docs.oasis-open.org/wss/2004/01/"
          "oasis-200401-wss-soap-message-security-1.0#Base64Binary")

BODIES = {
    "GetSystemDateAndTime": (TDS, "<tds:GetSystemDateAndTime/>"),
    "GetDeviceInformation": (TDS, "<tds:GetDeviceInformation/>"),
    "GetNetworkInterfaces": (TDS, "<tds:GetNetworkInterfaces/>"),
    "GetCapabilities": (TDS, "<tds:GetCapabilities><tds:Category>Media</tds:Category>"
                             "</tds:GetCapabilities>"),
    "GetProfiles": (TRT, "<trt:GetProfiles/>"),
}


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security PasswordDigest = Base64(SHA1(nonce + created + password))."""
    raw = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


def security_header(username: str, password: str, *, created: str | None = None,
                    nonce: bytes | None = None) -> str:
    """A wsse:Security header with a UsernameToken (PasswordDigest)."""
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_DIGEST}">{password_digest(nonce, created, password)}'
        f"</wsse:Password>"
        f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>")


def envelope(body: str, security: str = "") -> bytes:
    """A SOAP 1.2 envelope around ``body`` (already-escaped XML)."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" '
            f'xmlns:tt="{TT}"><s:Header>{security}</s:Header><s:Body>{body}</s:Body>'
            f"</s:Envelope>").encode("utf-8")


def stream_uri_body(profile_token: str) -> str:
    return ("<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
            "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
            f"<trt:ProfileToken>{escape(profile_token)}</trt:ProfileToken></trt:GetStreamUri>")


@dataclass(slots=True)
class Answer:
    """One SOAP answer: HTTP status, the Body's first element, or the fault's texts."""

    status: int
    payload: Element | None = None
    fault: str | None = None  # "code subcode: reason" of a SOAP Fault
    sent: bool = False  # a credential went with the request
    raw: str = ""


def parse_answer(status: int, body: bytes) -> Answer:
    """Parse a SOAP 1.2 (or 1.1) answer. ProbeError for non-XML, XML attacks, non-SOAP."""
    if not body.strip():
        return Answer(status)
    head = body.lstrip()[:512].lower()
    if status in (404, 405, 501) or b"<!doctype html" in head or b"<html" in head:
        raise ProbeError("not-onvif", f"HTTP {status} answered with a page, not SOAP")
    root = parse_xml(body)
    if local(root.tag) != "Envelope":
        raise ProbeError("malformed", "not a SOAP envelope")
    soap_body = next((c for c in root if local(c.tag) == "Body"), None)
    first = next(iter(soap_body), None) if soap_body is not None else None
    if first is not None and local(first.tag) == "Fault":
        texts = [t.strip() for el in first.iter()
                 if local(el.tag) in ("Value", "Text", "faultcode", "faultstring")
                 for t in [el.text or ""] if t.strip()]
        return Answer(status, fault=" ".join(texts)[:300] or "fault")
    return Answer(status, payload=first)


class _Caller:
    """Posts SOAP calls to one device, with optional credentials and clock offset."""

    def __init__(self, client: httpx.AsyncClient, username: str | None,
                 password: str | None) -> None:
        self.client = client
        self.username = username
        self.password = password or ""
        self.offset = dt.timedelta(0)

    def _security(self) -> str:
        if self.username is None:
            return ""
        created = (dt.datetime.now(dt.timezone.utc) + self.offset).strftime("%Y-%m-%dT%H:%M:%SZ")
        return security_header(self.username, self.password, created=created)

    async def call(self, path: str, name: str, body: str | None = None, ns: str = TDS,
                   anonymous: bool = False) -> Answer:
        if body is None:
            ns, body = BODIES[name]
        headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{ns}/{name}"'}
        sent = self.username is not None and not anonymous
        r = await fetch(self.client, "POST", path, headers=headers,
                        content=envelope(body, self._security() if sent else ""))
        if r.status == 401 and sent:
            chosen = digest.pick(digest.parse_challenges(r.headers.get_list("www-authenticate")))
            if chosen is not None:
                headers["Authorization"] = digest.authorization(
                    chosen, self.username or "", self.password, "POST", path)
                r = await fetch(self.client, "POST", path, headers=headers,
                                content=envelope(body, self._security()))
        answer = parse_answer(r.status, r.body)
        answer.sent, answer.raw = sent, r.text()[:1024]
        return answer

    async def sync_clock(self, path: str) -> str | None:
        """GetSystemDateAndTime (never authenticated); sets the offset for Created."""
        answer = await self.call(path, "GetSystemDateAndTime", anonymous=True)
        when = utc_time(answer.payload) if answer.payload is not None else None
        if when:
            self.offset = dt.datetime.fromisoformat(when) - dt.datetime.now(dt.timezone.utc)
        return when


def utc_time(payload: Element) -> str | None:
    """ISO 8601 UTC time from a GetSystemDateAndTimeResponse."""
    utc = next((el for el in payload.iter() if local(el.tag) == "UTCDateTime"), None)
    if utc is None:
        return None
    v = {local(el.tag): (el.text or "").strip() for el in utc.iter()}
    try:
        when = dt.datetime(int(v["Year"]), int(v["Month"]), int(v["Day"]), int(v["Hour"]),
                           int(v["Minute"]), int(v["Second"]), tzinfo=dt.timezone.utc)
    except (KeyError, ValueError):
        return None
    return when.isoformat()


def classify(answer: Answer) -> AuthResult:
    """Outcome of an ONVIF call."""
    s = answer.status
    if answer.fault is not None:
        text = answer.fault.lower()
        if "lock" in text:
            return AuthResult(AuthOutcome.LOCKED, answer.fault[:120], s)
        if "notauthorized" in text or "sender" in text or "authority" in text:
            return AuthResult(AuthOutcome.FAILURE, answer.fault[:120], s)
        return AuthResult(AuthOutcome.ERROR, answer.fault[:120], s)
    if 200 <= s < 300 and answer.payload is not None:
        if answer.sent:
            return AuthResult(AuthOutcome.SUCCESS, "accepted", s)
        return AuthResult(AuthOutcome.NO_AUTH, "answered without a credential", s)
    if s == 401:
        return AuthResult(AuthOutcome.FAILURE, "HTTP 401", s)
    if s in (423, 429) or (s == 403 and answer.sent):
        return AuthResult(AuthOutcome.LOCKED, f"HTTP {s}", s)
    return AuthResult(AuthOutcome.ERROR, f"HTTP {s}", s)


def _error(exc: BaseException) -> AuthResult:
    kind = "timeout" if isinstance(exc, TimeoutError) else error_kind(exc)
    return AuthResult(AuthOutcome.ERROR, kind)


_INFO = {"Manufacturer": "manufacturer", "Model": "model", "FirmwareVersion": "firmware",
         "SerialNumber": "serial", "HardwareId": "hardware_id"}


def _device_information(payload: Element) -> dict[str, str]:
    v = xml_values(payload)
    return {key: v[name] for name, key in _INFO.items() if v.get(name)}


async def probe(address: str, port: int, *, path: str = DEVICE_PATH, tls: bool = False,
                timeout: float) -> list[Observation]:
    """Unauthenticated GetSystemDateAndTime and GetDeviceInformation."""
    out: list[Observation] = []
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            caller = _Caller(client, None, None)
            answer = await caller.call(path, "GetSystemDateAndTime")
            obs = Observation(address, port, "onvif", raw=answer.raw)
            when = utc_time(answer.payload) if answer.payload is not None else None
            if when:
                obs.fields["onvif.utc_time"] = when
            if answer.fault:
                obs.fields["onvif.soap_fault"] = answer.fault
            if answer.payload is None and not answer.fault:
                obs.error = f"http-{answer.status}"
            out.append(obs)
            answer = await caller.call(path, "GetDeviceInformation")
            obs = Observation(address, port, "onvif", raw=answer.raw)
            result = classify(answer)
            if result.outcome == AuthOutcome.NO_AUTH and answer.payload is not None:
                obs.fields["onvif.auth_required"] = "false"
                obs.fields.update({f"onvif.{k}": v for k, v in
                                   _device_information(answer.payload).items()})
            elif result.outcome in (AuthOutcome.FAILURE, AuthOutcome.LOCKED):
                obs.fields["onvif.auth_required"] = "true"
            if answer.fault:
                obs.fields["onvif.soap_fault"] = answer.fault
            out.append(obs)
    except ProbeError as exc:
        if exc.kind != "not-onvif":  # a web server that is not ONVIF is no error: no observation
            out.append(Observation(address, port, "onvif", error=exc.kind, raw=str(exc)[:200]))
    except Exception as exc:  # noqa: BLE001 - device misbehaviour is an error observation
        out.append(Observation(address, port, "onvif", error=_error(exc).detail,
                               raw=str(exc)[:200]))
    return out


async def try_login(address: str, port: int, username: str, password: str, *,
                    path: str = DEVICE_PATH, tls: bool = False, timeout: float) -> AuthResult:
    """GetDeviceInformation with a UsernameToken (NO_AUTH when it answers without one)."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            caller = _Caller(client, username, password)
            await caller.sync_clock(path)
            anonymous = await caller.call(path, "GetDeviceInformation", anonymous=True)
            if classify(anonymous).outcome == AuthOutcome.NO_AUTH:
                return classify(anonymous)
            return classify(await caller.call(path, "GetDeviceInformation"))
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


async def device_info(address: str, port: int, username: str | None = None,
                      password: str | None = None, *, path: str = DEVICE_PATH,
                      tls: bool = False, timeout: float) -> dict[str, str]:
    """device.* from GetDeviceInformation and GetNetworkInterfaces; {} when unreadable."""
    out: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            caller = _Caller(client, username, password)
            if username is not None:
                await caller.sync_clock(path)
            answer = await caller.call(path, "GetDeviceInformation")
            if answer.payload is None or answer.fault:
                return {}
            info = _device_information(answer.payload)
            for key, name in (("manufacturer", "vendor"), ("model", "model"),
                              ("firmware", "firmware"), ("serial", "serial")):
                if key in info:
                    out[f"device.{name}"] = info[key]
            answer = await caller.call(path, "GetNetworkInterfaces")
            if answer.payload is not None:
                mac = xml_values(answer.payload).get("HwAddress")
                if mac:
                    out["device.mac"] = mac
    except Exception:  # noqa: BLE001 - keep what was read
        pass
    return out


def service_path(xaddr: str, fallback: str) -> str:
    """Path of a reported service address; the host and port in it are never used."""
    try:
        parts = urlsplit(xaddr.strip())
    except ValueError:
        return fallback
    if not parts.path.startswith("/"):
        return fallback
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def get_stream_uri(address: str, port: int, *, username: str | None = None,
                         password: str | None = None, path: str = DEVICE_PATH,
                         tls: bool = False, timeout: float) -> tuple[AuthResult, str | None]:
    """GetCapabilities (Media XAddr) -> GetProfiles (first token) -> GetStreamUri (RTSP)."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            caller = _Caller(client, username, password)
            if username is not None:
                await caller.sync_clock(path)
            caps = await caller.call(path, "GetCapabilities")
            if caps.payload is None:
                return classify(caps), None
            media = next((el for el in caps.payload.iter() if local(el.tag) == "Media"), None)
            xaddr = xml_values(media).get("XAddr", "") if media is not None else ""
            media_path = service_path(xaddr, path)
            profiles = await caller.call(media_path, "GetProfiles")
            if profiles.payload is None:
                return classify(profiles), None
            token = next((el.get("token") for el in profiles.payload
                          if local(el.tag) == "Profiles" and el.get("token")), None)
            if token is None:
                return AuthResult(AuthOutcome.ERROR, "no media profile", profiles.status), None
            answer = await caller.call(media_path, "GetStreamUri", stream_uri_body(token), TRT)
            result = classify(answer)
            if answer.payload is None:
                return result, None
            uri = next((el.text.strip() for el in answer.payload.iter()
                        if local(el.tag) == "Uri" and el.text and el.text.strip()), None)
            if uri is None:
                return AuthResult(AuthOutcome.ERROR, "no Uri in GetStreamUri answer",
                                  answer.status), None
            return result, uri[:1024]
    except Exception as exc:  # noqa: BLE001
        return _error(exc), None
