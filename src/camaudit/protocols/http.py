"""HTTP(S) client for camera web interfaces and vendor web APIs.

``probe`` fetches ``/`` and a short list of identifying paths (like nmap's http-title /
http-headers and Recog's HTTP fingerprints): Hikvision ISAPI, Dahua RPC2_Login (first step of
global.login only: a challenge, no state change), Axis basicdeviceinfo (unrestricted
properties) and the ONVIF device service.  Logins: HTTP Basic / Digest as the server asks,
Hikvision ISAPI userCheck, Dahua RPC2 two-step login, Axis VAPIX.  Never a state-changing request.

Every exchange runs under one deadline; XML via defusedxml.  Bodies are read as raw bytes off
the wire (cut at 64 KiB) and a ``Content-Encoding`` the device sends although we asked for
``identity`` is undone here, stage by stage, never producing more than the same 64 KiB: a
compression bomb costs at most 64 KiB of output per stage, never memory or the event loop.
Every request passes the scope guard (``camaudit.scope.admit``) in the transport itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import re
import ssl
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
import httpx

from camaudit.model import AuthOutcome, AuthResult, Observation
from camaudit.protocols import digest
from camaudit.protocols._net import MAX_READ, ProbeError, classify, text
from camaudit.protocols.tls import client_context
from camaudit.scope import admit, parse_address

try:  # Brotli >= 1.2 can bound its output; without it a br body is kept as sent
    import brotli as _brotli

    _BROTLI_BOUNDED = "output_buffer_limit" in (_brotli.Decompressor.process.__doc__ or "")
except ImportError:  # pragma: no cover - brotli comes with httpx[brotli]
    _brotli = None
    _BROTLI_BOUNDED = False

BODY_KEEP = 2048  # characters of body kept in http.body
USER_AGENT = "Mozilla/5.0 (compatible; camaudit)"

HIK_DEVICE_INFO = "/ISAPI/System/deviceInfo"
HIK_USER_CHECK = "/ISAPI/Security/userCheck"
DAHUA_LOGIN = "/RPC2_Login"
DAHUA_RPC = "/RPC2"
AXIS_BASIC = "/axis-cgi/basicdeviceinfo.cgi"
AXIS_PARAM = "/axis-cgi/param.cgi?action=list&group=root.Brand,root.Properties"
ONVIF_DEVICE = "/onvif/device_service"
UNIVIEW_LAPI = "/LAPI/V1.0/System/DeviceBasicInfo"

# Dahua global.login error codes (web interfaceLogin.js and public clients).
DAHUA_CHALLENGE = 268632079
DAHUA_FAILED = {268632070: "user not valid", 268632071: "password not valid",
                268632085: "user or password not valid"}
DAHUA_LOCKED = {268632073: "user in blacklist", 268632081: "user locked"}

_LOCK_TEXT = re.compile(
    rb"lockstatus>\s*lock\s*<|\"lockstatus\"\s*:\s*\"lock|\blocked\b|too many|locked out"
    rb"|try again later",
    re.IGNORECASE,
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


# ---------------------------------------------------------------- transport


@dataclass(slots=True)
class Response:
    """A bounded HTTP answer."""

    status: int
    reason: str
    version: str
    headers: httpx.Headers
    body: bytes
    truncated: bool = False
    encoding: str = ""  # a Content-Encoding left undone (unknown, or damaged), else ""

    def text(self) -> str:
        return text(self.body)

    def raw(self) -> str:
        head = f"{self.version} {self.status} {self.reason}\r\n"
        return head + "".join(f"{k}: {v}\r\n" for k, v in self.headers.multi_items())

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError) as exc:  # 64 KiB of "[[[[": too deep, not a crash
            raise ProbeError("malformed", "body is not JSON") from exc


def base_url(address: str, port: int, tls: bool) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{'https' if tls else 'http'}://{host}:{port}"


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """Every request, whatever URL it carries, goes only where the scope guard admits."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        admit(request.url.host)  # ScopeError: no connection is opened
        return await super().handle_async_request(request)


def make_client(address: str, port: int, *, tls: bool, timeout: float) -> httpx.AsyncClient:
    """An httpx client bound to one device: no proxies from the environment, no redirects,
    no certificate verification, identity encoding asked (and bounded decoding of whatever
    comes: see ``fetch``), every request through the scope guard."""
    address = admit(address)
    return httpx.AsyncClient(
        base_url=base_url(address, port, tls),
        transport=_GuardedTransport(verify=client_context() if tls else False, trust_env=False),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )


def _inflate(data: bytes, limit: int, wbits: int) -> tuple[bytes, bool]:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, limit + 1)
    return out[:limit], len(out) > limit


def _decode_stage(coding: str, data: bytes, limit: int) -> tuple[bytes, bool]:
    """Undo one content coding, producing at most ``limit`` bytes: (output, cut)."""
    if coding in ("gzip", "x-gzip"):
        return _inflate(data, limit, 16 + zlib.MAX_WBITS)
    if coding == "deflate":  # zlib-wrapped as RFC 9110 says; raw deflate as some servers send
        try:
            return _inflate(data, limit, zlib.MAX_WBITS)
        except zlib.error:
            return _inflate(data, limit, -zlib.MAX_WBITS)
    if coding == "br" and _BROTLI_BOUNDED:
        out = _brotli.Decompressor().process(data, output_buffer_limit=limit + 1)
        return out[:limit], len(out) > limit
    raise ValueError(coding)


def decode_body(encoding: str, raw: bytes, limit: int = MAX_READ) -> tuple[bytes, bool, str]:
    """The body with its content codings undone, last applied first, each stage bounded by
    ``limit``.  Returns (body, cut, codings left undone); an unknown coding (zstd, compress) or
    damaged data leaves the body as it was at that stage."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > 4:  # no server nests that deep: not decoded at all
        return raw, False, ", ".join(codings)
    body, cut = raw, False
    while codings:
        coding = codings[-1]
        try:
            body, stage_cut = _decode_stage(coding, body, limit)
        except Exception:  # noqa: BLE001 - zlib.error, brotli.error, an unknown coding
            return body, cut, ", ".join(codings)
        cut = cut or stage_cut
        codings.pop()
    return body, cut, ""


async def fetch(client: httpx.AsyncClient, method: str, path: str, *,
                headers: dict[str, str] | None = None, content: bytes | None = None,
                limit: int = MAX_READ) -> Response:
    """One request; the raw body is streamed and cut at ``limit`` bytes, then its content
    codings are undone within the same ``limit``. Raises on transport errors."""
    async with client.stream(method, path, headers=headers, content=content) as r:
        buf = bytearray()
        truncated = False
        async for chunk in r.aiter_raw():  # bytes off the wire: httpx decodes nothing
            buf += chunk
            if len(buf) >= limit:
                truncated = True
                del buf[limit:]
                break
        body, cut, left = bytes(buf), False, ""
        if r.headers.get("content-encoding"):
            body, cut, left = decode_body(r.headers["content-encoding"][:200], body, limit)
        return Response(r.status_code, r.reason_phrase, r.http_version, r.headers, body,
                        truncated or cut, left)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from (transports wrap the OS error)."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(out) < 20:
        e = todo.pop()
        if e is None or e in out:
            continue
        out.append(e)
        todo += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]
    return out


def error_kind(exc: BaseException) -> str:
    """Short error word for an exception raised while talking HTTP to a device."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        causes = _causes(exc)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return "refused"
        return "tls" if any(isinstance(c, ssl.SSLError) for c in causes) else "connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        msg = str(exc).lower()
        if "too long" in msg or "too large" in msg:
            return "oversized"
        if "disconnected" in msg or "peer closed" in msg:
            return "reset"
        return "malformed"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "reset"
    if isinstance(exc, httpx.HTTPError):
        return "error"
    return classify(exc)


def parse_xml(data: bytes) -> Element:
    """Parse a device's XML with defusedxml: DTDs and entities are refused, never expanded."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise ProbeError("xml-attack", type(exc).__name__) from exc
    except (ParseError, ValueError) as exc:
        raise ProbeError("malformed", "bad XML") from exc


def local(tag: str) -> str:
    """Tag name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def xml_values(root: Element) -> dict[str, str]:
    """First text of every element by local name (whole tree, first wins)."""
    out: dict[str, str] = {}
    for el in root.iter():
        name = local(el.tag)
        if name not in out and el.text and el.text.strip():
            out[name] = el.text.strip()[:256]
    return out


# ---------------------------------------------------------------- probe


def _title(body: bytes) -> str:
    m = _TITLE.search(body)
    if not m:
        return ""
    return " ".join(html.unescape(text(m.group(1))).split())[:256]


def observe(address: str, port: int, tls: bool, path: str, r: Response) -> Observation:
    """The http.* fields of one answer."""
    values = r.headers.get_list("www-authenticate")
    challenges = digest.parse_challenges(values)
    chosen = digest.pick(challenges) or (challenges[0] if challenges else None)
    f = {
        "http.status": str(r.status),
        "http.path": path,
        "http.server": r.headers.get("server", ""),
        "http.title": _title(r.body),
        "http.content_type": r.headers.get("content-type", ""),
        "http.body": r.text()[:BODY_KEEP],
        "http.auth_scheme": chosen.scheme if chosen else "none",
    }
    optional = {
        "http.www_authenticate": " | ".join(values),
        "http.realm": chosen.realm if chosen else "",
        "http.location": r.headers.get("location", ""),
        "http.content_encoding": r.encoding,
        "http.set_cookie": " | ".join(r.headers.get_list("set-cookie")),
    }
    f.update({k: v[:512] for k, v in optional.items() if v})
    return Observation(address, port, "https" if tls else "http", fields=f, raw=r.raw())


def _dahua_challenge(username: str = "admin") -> bytes:
    return json.dumps({"method": "global.login", "params": {
        "userName": username, "password": "", "clientType": "Web3.0", "loginType": "Direct"},
        "id": 1}).encode()


_AXIS_UNRESTRICTED = json.dumps(
    {"apiVersion": "1.0", "method": "getAllUnrestrictedProperties"}).encode()
_JSON = {"Content-Type": "application/json"}


def same_host(host: str | None, address: str) -> bool:
    """Does ``host`` (from a URL a device sent) name ``address``, in any spelling?"""
    try:
        return host is not None and parse_address(host) == parse_address(address)
    except ValueError:
        return False  # a host name: never resolved, never followed


def _same_origin_path(location: str, base: str) -> str | None:
    """The path of a redirect target when it stays on the same scheme, address and port (the
    request itself still passes the scope guard)."""
    try:
        target = urlsplit(urljoin(base + "/", location))
        origin = urlsplit(base)
        same = (target.scheme, target.port) == (origin.scheme, origin.port) and same_host(
            target.hostname, origin.hostname or "")
    except ValueError:  # a port out of range, a malformed IPv6 literal
        return None
    if not same:
        return None
    return (target.path or "/") + (f"?{target.query}" if target.query else "")


async def probe(address: str, port: int, *, tls: bool = False,
                timeout: float) -> list[Observation]:
    """GET / (one same-origin redirect followed) plus vendor paths; one Observation per path.

    At most six requests; stops at the first transport error, when ``/`` and the first vendor
    path both answer 404 (a plain server), and skips the other vendors' paths once one vendor
    API answered."""
    out: list[Observation] = []
    proto = "https" if tls else "http"
    current = "/"
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:

            async def get(path: str, method: str = "GET", content: bytes | None = None,
                          headers: dict[str, str] | None = None) -> Response:
                nonlocal current
                current = path
                r = await fetch(client, method, path, content=content, headers=headers)
                out.append(observe(address, port, tls, path, r))
                return r

            root = await get("/")
            if 300 <= root.status < 400 and root.headers.get("location"):
                target = _same_origin_path(root.headers["location"], str(client.base_url))
                if target and target != "/":
                    await get(target)
            hik = await get(HIK_DEVICE_INFO)
            if root.status == 404 and hik.status == 404:
                return out
            # A vendor API that answers on its own path (and a challenge there that the root
            # page did not ask for) names the vendor: http.api records which one.
            found = (hik.status == 200 and b"DeviceInfo" in hik.body) or (
                hik.status == 401 and root.status != 401)
            if found:
                out[-1].fields["http.api"] = "hikvision-isapi"
            if not found:
                dahua = await get(DAHUA_LOGIN, "POST", _dahua_challenge(), _JSON)
                found = dahua.status == 200 and b'"random"' in dahua.body
                if found:
                    _dahua_fields(out[-1], dahua)
                    out[-1].fields["http.api"] = "dahua-rpc2"
            if not found:
                axis = await get(AXIS_BASIC, "POST", _AXIS_UNRESTRICTED, _JSON)
                found = axis.status == 200 and b'"propertyList"' in axis.body
                if found:
                    out[-1].fields["http.api"] = "axis-vapix"
            if not found:
                lapi = await get(UNIVIEW_LAPI)
                found = (lapi.status == 401 and root.status != 401) or (
                    lapi.status == 200 and b'"ResponseURL"' in lapi.body)
                if found:
                    out[-1].fields["http.api"] = "uniview-lapi"
            await get(ONVIF_DEVICE)
    except Exception as exc:  # noqa: BLE001 - device misbehaviour is reported, never raised
        kind = "timeout" if isinstance(exc, TimeoutError) else error_kind(exc)
        out.append(Observation(address, port, proto, fields={"http.path": current},
                               raw=str(exc)[:200], error=kind))
    return out


def _dahua_fields(obs: Observation, r: Response) -> None:
    try:
        params = r.json().get("params") or {}
    except (ProbeError, AttributeError):
        return
    if not isinstance(params, dict):
        return
    for key, field in (("realm", "http.realm"), ("encryption", "http.dahua_encryption")):
        if isinstance(params.get(key), str):
            obs.fields[field] = params[key][:256]


# ---------------------------------------------------------------- generic login


def _locked_text(body: bytes) -> bool:
    return bool(_LOCK_TEXT.search(body[:MAX_READ]))


async def _exchange(client: httpx.AsyncClient, method: str, path: str, username: str,
                    password: str, *, content: bytes | None = None,
                    headers: dict[str, str] | None = None) -> tuple[bool, Response]:
    """Request ``path``; when the server asks (401), answer its challenge once.

    Returns (whether a credential was sent, the last answer). Raises ProbeError('unsupported')
    for a challenge we cannot answer."""
    r = await fetch(client, method, path, content=content, headers=headers)
    if r.status != 401:
        return False, r
    for _ in range(2):  # a second round only for a stale nonce
        chosen = digest.pick(digest.parse_challenges(r.headers.get_list("www-authenticate")))
        if chosen is None:
            raise ProbeError("unsupported", "no Basic/Digest challenge we can answer")
        auth = digest.authorization(chosen, username, password, method, path)
        r = await fetch(client, method, path, content=content,
                        headers={**(headers or {}), "Authorization": auth})
        if r.status != 401 or chosen.scheme != "digest":
            break
        again = digest.pick(digest.parse_challenges(r.headers.get_list("www-authenticate")))
        if not (again and again.stale):
            break
    return True, r


def classify_login(sent: bool, r: Response) -> AuthResult:
    """Map the last answer of a login exchange to an outcome."""
    s = r.status
    if not sent:
        if 200 <= s < 300:
            return AuthResult(AuthOutcome.NO_AUTH, "no credential asked", s)
        if s in (423, 429) or (s >= 400 and _locked_text(r.body)):
            return AuthResult(AuthOutcome.LOCKED, f"status {s} before any credential", s)
        if s == 404:
            return AuthResult(AuthOutcome.ERROR, "no such path", s)
        return AuthResult(AuthOutcome.ERROR, f"status {s} without an auth challenge", s)
    if 200 <= s < 300:
        return AuthResult(AuthOutcome.SUCCESS, "accepted", s)
    if s in (403, 423, 429) or _locked_text(r.body):
        return AuthResult(AuthOutcome.LOCKED, f"status {s} after a credential", s)
    if s == 401:
        return AuthResult(AuthOutcome.FAILURE, "rejected", s)
    return AuthResult(AuthOutcome.ERROR, f"status {s}", s)


def _error(exc: BaseException) -> AuthResult:
    kind = "timeout" if isinstance(exc, TimeoutError) else error_kind(exc)
    detail = exc.detail if isinstance(exc, ProbeError) and exc.detail else ""
    return AuthResult(AuthOutcome.ERROR, f"{kind}: {detail}" if detail else kind)


async def try_login(address: str, port: int, username: str, password: str, *, path: str,
                    tls: bool = False, timeout: float, method: str = "GET") -> AuthResult:
    """One login attempt on ``path`` with Basic or Digest, as the server asks."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            sent, r = await _exchange(client, method, path, username, password)
            return classify_login(sent, r)
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


# ---------------------------------------------------------------- Hikvision ISAPI

_HIK_KIND = {"ipcamera": "camera", "ipdome": "camera", "ipzoom": "camera", "camera": "camera",
             "nvr": "nvr", "dvr": "dvr", "dvs": "dvr", "hybirdnvr": "nvr", "hybridnvr": "nvr"}


def hikvision_user_check(sent: bool, r: Response) -> AuthResult:
    """Classify an ISAPI userCheck answer (statusValue, lockStatus, unlockTime, retryLoginTime).

    Old firmware answers HTTP 200 with ``<statusValue>401</statusValue>`` for a wrong password."""
    base = classify_login(sent, r)
    if b"userCheck" not in r.body:
        return base
    try:
        values = xml_values(parse_xml(r.body))
    except ProbeError as exc:
        return AuthResult(AuthOutcome.ERROR, exc.kind, r.status)
    if values.get("lockStatus", "").lower() == "lock":
        return AuthResult(AuthOutcome.LOCKED, f"unlockTime {values.get('unlockTime', '?')}",
                          r.status)
    status = values.get("statusValue", "")
    retries = f", {values['retryLoginTime']} tries left" if "retryLoginTime" in values else ""
    if status == "200":
        outcome = AuthOutcome.SUCCESS if sent else AuthOutcome.NO_AUTH
        return AuthResult(outcome, "userCheck ok", r.status)
    if status == "401":
        return AuthResult(AuthOutcome.FAILURE, "userCheck 401" + retries, r.status)
    return base


async def hikvision_login(address: str, port: int, username: str, password: str, *,
                          tls: bool = False, timeout: float) -> AuthResult:
    """GET /ISAPI/Security/userCheck with the credential (Digest or Basic as asked)."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            sent, r = await _exchange(client, "GET", HIK_USER_CHECK, username, password)
            return hikvision_user_check(sent, r)
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


def parse_hik_device_info(body: bytes) -> dict[str, str]:
    """device.* keys from an ISAPI ``<DeviceInfo>`` document."""
    root = parse_xml(body)
    if local(root.tag) != "DeviceInfo":
        raise ProbeError("malformed", "not a DeviceInfo document")
    v = xml_values(root)
    out = {"device.vendor": "Hikvision"}
    for src, dst in (("model", "model"), ("serialNumber", "serial"), ("macAddress", "mac")):
        if v.get(src):
            out[f"device.{dst}"] = v[src]
    if v.get("firmwareVersion"):
        build = v.get("firmwareReleasedDate", "")
        out["device.firmware"] = f"{v['firmwareVersion']} {build}".strip()
    kind = _HIK_KIND.get(v.get("deviceType", "").replace(" ", "").lower())
    if kind:
        out["device.kind"] = kind
    return out


async def hikvision_info(address: str, port: int, username: str, password: str, *,
                         tls: bool = False, timeout: float) -> dict[str, str]:
    """Authenticated GET /ISAPI/System/deviceInfo; {} when it cannot be read."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            _, r = await _exchange(client, "GET", HIK_DEVICE_INFO, username, password)
            return parse_hik_device_info(r.body) if r.status == 200 else {}
    except Exception:  # noqa: BLE001
        return {}


# ---------------------------------------------------------------- Dahua RPC2


def _subdict(d: dict[str, Any], key: str) -> dict[str, Any]:
    """``d[key]`` when it is a JSON object, else an empty one (devices send anything)."""
    v = d.get(key)
    return v if isinstance(v, dict) else {}


def dahua_hash(username: str, password: str, random: str, realm: str) -> str:
    """Dahua 'Default' encryption: MD5(user:random:MD5(user:realm:pass).upper()).upper()."""
    inner = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest().upper()
    return hashlib.md5(f"{username}:{random}:{inner}".encode()).hexdigest().upper()


def _dahua_error(answer: dict[str, Any]) -> AuthResult:
    err = _subdict(answer, "error")
    raw_code = err.get("code")
    code: int | None = raw_code if isinstance(raw_code, int) else None
    message = str(err.get("message", ""))[:120]
    params = _subdict(answer, "params")
    remain = params.get("remainLockSecond")
    if code in DAHUA_LOCKED or "lock" in message.lower() or "blacklist" in message.lower() or (
            isinstance(remain, int) and remain > 0):
        return AuthResult(AuthOutcome.LOCKED, DAHUA_LOCKED.get(code or 0, message or "locked"), code)
    if code is not None and code in DAHUA_FAILED:
        left = params.get("remainLoginTimes")
        extra = f", {left} tries left" if isinstance(left, int) else ""
        return AuthResult(AuthOutcome.FAILURE, DAHUA_FAILED[code] + extra, code)
    return AuthResult(AuthOutcome.ERROR, f"rpc error {code}: {message}", code)


async def _rpc(client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    r = await fetch(client, "POST", path, content=json.dumps(payload).encode(), headers=_JSON)
    if r.status != 200:
        raise ProbeError("status", f"{path} answered {r.status}")
    answer = r.json()
    if not isinstance(answer, dict):
        raise ProbeError("malformed", "RPC answer is not an object")
    return answer


async def _dahua_session(client: httpx.AsyncClient, username: str,
                         password: str) -> tuple[AuthResult, Any]:
    """Two-step global.login; returns the outcome and the session id when it worked."""
    first = await _rpc(client, DAHUA_LOGIN, json.loads(_dahua_challenge(username)))
    params = _subdict(first, "params")
    if first.get("result") is True:
        return AuthResult(AuthOutcome.NO_AUTH, "empty password accepted"), first.get("session")
    if not isinstance(params.get("random"), str) or not isinstance(params.get("realm"), str):
        return _dahua_error(first), None
    encryption = params.get("encryption", "Default")
    if encryption != "Default":
        return AuthResult(AuthOutcome.ERROR, f"unsupported encryption {str(encryption)[:40]}"), None
    session = first.get("session")
    second = await _rpc(client, DAHUA_LOGIN, {
        "method": "global.login",
        "params": {"userName": username,
                   "password": dahua_hash(username, password, params["random"], params["realm"]),
                   "clientType": "Web3.0", "loginType": "Direct",
                   "authorityType": "Default", "passwordType": "Default"},
        "id": 2, "session": session})
    if second.get("result") is True:
        return AuthResult(AuthOutcome.SUCCESS, "global.login ok", 200), second.get("session",
                                                                                   session)
    return _dahua_error(second), None


async def _dahua_logout(client: httpx.AsyncClient, session: Any) -> None:
    """Free the login slot on the device (global.logout changes no configuration)."""
    try:
        await _rpc(client, DAHUA_RPC, {"method": "global.logout", "params": None, "id": 99,
                                       "session": session})
    except Exception:  # noqa: BLE001 - best effort
        pass


async def dahua_login(address: str, port: int, username: str, password: str, *,
                      tls: bool = False, timeout: float) -> AuthResult:
    """Dahua web login: POST /RPC2_Login global.login (challenge, then MD5 'Default' hash)."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            result, session = await _dahua_session(client, username, password)
            if result.outcome == AuthOutcome.SUCCESS:
                await _dahua_logout(client, session)
            return result
    except Exception as exc:  # noqa: BLE001
        return _error(exc)


_DAHUA_KIND = {"IPC": "camera", "SD": "camera", "PTZ": "camera", "NVR": "nvr", "DVR": "dvr",
               "HCVR": "dvr", "XVR": "dvr"}


async def dahua_info(address: str, port: int, username: str, password: str, *,
                     tls: bool = False, timeout: float) -> dict[str, str]:
    """device.* from magicBox.getDeviceType / getSoftwareVersion / getSerialNo / getDeviceClass."""
    out: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            result, session = await _dahua_session(client, username, password)
            if result.outcome not in (AuthOutcome.SUCCESS, AuthOutcome.NO_AUTH):
                return {}
            out["device.vendor"] = "Dahua"
            calls = ("magicBox.getDeviceType", "magicBox.getSoftwareVersion",
                     "magicBox.getSerialNo", "magicBox.getDeviceClass")
            for n, method in enumerate(calls, start=10):
                answer = await _rpc(client, DAHUA_RPC, {"method": method, "params": None,
                                                        "id": n, "session": session})
                p = _subdict(answer, "params")
                if method.endswith("DeviceType") and isinstance(p.get("type"), str):
                    out["device.model"] = p["type"][:128]
                elif method.endswith("SoftwareVersion") and isinstance(p.get("version"), dict):
                    version = p["version"]
                    # as Dahua's own web page shows it: "V2.800.0000000.16.R, Build Date: 2020-05-21"
                    fw = f"V{version['Version']}" if version.get("Version") else ""
                    if version.get("BuildDate"):
                        fw += f", Build Date: {version['BuildDate']}"
                    if fw.strip():
                        out["device.firmware"] = fw.strip()[:128]
                elif method.endswith("SerialNo") and isinstance(p.get("sn"), str):
                    out["device.serial"] = p["sn"][:128]
                elif method.endswith("DeviceClass") and isinstance(p.get("type"), str):
                    kind = _DAHUA_KIND.get(p["type"].upper())
                    if kind:
                        out["device.kind"] = kind
            await _dahua_logout(client, session)
    except Exception:  # noqa: BLE001 - keep whatever was read before the device misbehaved
        pass
    return out if len(out) > 1 else {}


# ---------------------------------------------------------------- Axis VAPIX

AXIS_LOGIN = "/axis-cgi/param.cgi?action=list&group=root.Brand.Brand"


async def axis_login(address: str, port: int, username: str, password: str, *,
                     tls: bool = False, timeout: float) -> AuthResult:
    """Digest (or Basic) on VAPIX param.cgi, listing the brand only."""
    return await try_login(address, port, username, password, path=AXIS_LOGIN, tls=tls,
                           timeout=timeout)


def _axis_kind(prod_type: str) -> str | None:
    t = prod_type.lower()
    if "recorder" in t:
        return "nvr"
    if "camera" in t or "dome" in t:
        return "camera"
    if "encoder" in t:
        return "dvr"
    return None


def axis_fields(props: dict[str, str]) -> dict[str, str]:
    """device.* from Axis properties (basicdeviceinfo names; param.cgi is mapped to them)."""
    out = {"device.vendor": "Axis"}
    if props.get("ProdNbr") or props.get("ProdFullName"):
        out["device.model"] = (props.get("ProdNbr") or props["ProdFullName"])[:128]
    if props.get("Version"):
        out["device.firmware"] = props["Version"][:64]
    serial = props.get("SerialNumber", "")
    if serial:
        out["device.serial"] = serial[:64]
        if re.fullmatch(r"[0-9A-Fa-f]{12}", serial):  # an Axis serial number is its MAC
            out["device.mac"] = ":".join(serial[i:i + 2] for i in range(0, 12, 2)).upper()
    kind = _axis_kind(props.get("ProdType", ""))
    if kind:
        out["device.kind"] = kind
    return out


_AXIS_PARAMS = {"root.Brand.ProdNbr": "ProdNbr", "root.Brand.ProdFullName": "ProdFullName",
                "root.Brand.ProdType": "ProdType", "root.Properties.Firmware.Version": "Version",
                "root.Properties.System.SerialNumber": "SerialNumber"}


async def uniview_info(address: str, port: int, username: str, password: str, *,
                       tls: bool = False, timeout: float) -> dict[str, str]:
    """Uniview LAPI DeviceBasicInfo (Digest). {} when unreadable."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            _, r = await _exchange(client, "GET", UNIVIEW_LAPI, username, password)
            if r.status != 200:
                return {}
            answer = r.json()
            data = ((answer.get("Response") or {}).get("Data")
                    if isinstance(answer, dict) else None)
            if not isinstance(data, dict):
                return {}
            out = {"device.vendor": "Uniview"}
            for key, field in (("DeviceModel", "device.model"), ("FirmwareVersion", "device.firmware"),
                               ("SerialNumber", "device.serial"), ("MAC", "device.mac")):
                if isinstance(data.get(key), str) and data[key].strip():
                    out[field] = data[key].strip()[:128]
            return out
    except Exception:  # noqa: BLE001
        return {}


async def axis_info(address: str, port: int, username: str, password: str, *,
                    tls: bool = False, timeout: float) -> dict[str, str]:
    """basicdeviceinfo getAllProperties; param.cgi on older firmware. {} when unreadable."""
    try:
        async with asyncio.timeout(timeout), make_client(
                address, port, tls=tls, timeout=timeout) as client:
            body = json.dumps({"apiVersion": "1.0", "method": "getAllProperties"}).encode()
            _, r = await _exchange(client, "POST", AXIS_BASIC, username, password,
                                   content=body, headers=_JSON)
            if r.status == 200:
                answer = r.json()
                props = ((answer.get("data") or {}).get("propertyList")
                         if isinstance(answer, dict) else None)
                if isinstance(props, dict):
                    return axis_fields({k: str(v) for k, v in props.items()})
            _, r = await _exchange(client, "GET", AXIS_PARAM, username, password)
            if r.status != 200:
                return {}
            props = {}
            for line in r.text().splitlines()[:2000]:
                key, _, value = line.partition("=")
                if key.strip() in _AXIS_PARAMS:
                    props[_AXIS_PARAMS[key.strip()]] = value.strip()
            return axis_fields(props) if props else {}
    except Exception:  # noqa: BLE001
        return {}
