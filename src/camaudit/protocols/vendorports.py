"""Vendor binary ports: Hikvision SDK (8000), Dahua DVRIP (37777), Xiongmai Sofia/XMeye (34567).

What each probe sends, and why it is harmless (none of them is, or counts as, a login attempt):

* Hikvision 8000: two empty lines (``\\r\\n\\r\\n``, nmap's GenericLines probe).  The SDK server
  does not speak first; to a request it cannot parse it answers a 16-byte error frame
  ``00 00 00 10 ...`` (4-byte big-endian length, then status words), which is what nmap's
  "Hikvision IPCam control port" signature matches.
* Dahua 37777: the first half of the DVRIP login, the realm/random request (command 0xa0 0x01,
  no user name, no password).  The device answers a 32-byte header starting 0xb0 and a text body
  ``Realm:Login to <serial>\\r\\nRandom:<nonce>\\r\\n``.  No credential is checked, so no failed
  login is counted.
* Xiongmai 34567: a SystemInfo request (message 1020) with session 0, as the CMS client sends
  after login.  Firmware that checks sessions answers a 20-byte 0xff header and ``{"Ret": 103|105
  ...}``; old firmware answers the SystemInfo itself (an unauthenticated information leak, kept in
  ``xmeye.unauthenticated_info``).  Sending a login with an empty or invalid user instead would
  count as a failed login on the device, so it is not used for identification.

Every length field read from a device is checked against a bound before anything is read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from camaudit.model import MAX_RAW, AuthOutcome, AuthResult, Observation
from camaudit.protocols._net import Conn, ProbeError, classify, connect, text

T = TypeVar("T")
HEX_KEPT = 64  # bytes of a binary answer kept as hex in response_hex

# --- Hikvision SDK (8000) -------------------------------------------------------------------
HIK_PROBE = b"\r\n\r\n"
HIK_MAX_FRAME = 4096

# --- Dahua DVRIP (37777) --------------------------------------------------------------------
DVRIP_REALM_REQUEST = (b"\xa0\x01\x00\x00" + b"\x00" * 20 + bytes.fromhex("050201010000a1aa"))
DVRIP_HEADER = 32
DVRIP_MAX_BODY = 4096

# --- Xiongmai Sofia / NetSurveillance (34567) -----------------------------------------------
XM_HEADER = struct.Struct("<BBxxIIBBHI")  # magic 0xff, version, session, sequence, fragments, msg, length
XM_MAGIC = 0xFF
XM_VERSION = 1
XM_MAX_BODY = 16384  # the protocol's own packet limit
XM_LOGIN, XM_LOGIN_REPLY = 1000, 1001
XM_SYSINFO, XM_SYSINFO_REPLY = 1020, 1021
# Ret codes of the login reply (Sofia protocol status table)
XM_OK = 100
XM_FAILED = {106: "wrong username or password", 203: "wrong password", 204: "wrong username",
             113: "user does not exist"}
XM_LOCKED = {205: "user locked", 206: "user banned (blacklist)"}
XM_KINDS = {"IPC": "camera", "DVR": "dvr", "NVR": "nvr", "HVR": "dvr"}
SOFIA_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


async def _exchange(address: str, port: int, request: bytes, timeout: float,
                    reader: Callable[[Conn], Awaitable[T]]) -> T:
    """Connect, send ``request``, run ``reader(conn)`` under one deadline, always close."""
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            await conn.send(request)
            return await reader(conn)
    finally:
        if conn is not None:
            await conn.close()


# --- Hikvision ------------------------------------------------------------------------------

async def _read_hik(conn: Conn) -> bytes:
    data = await conn.read_some(256)
    if not data:
        raise ProbeError("reset", "closed without an answer")
    if len(data) >= 4:
        (length,) = struct.unpack(">I", data[:4])
        if 8 <= length <= HIK_MAX_FRAME and length > len(data):
            data += await conn.read_exactly(length - len(data))
    return data


async def probe_hiksdk(address: str, port: int = 8000, *, timeout: float) -> Observation:
    """Send two empty lines; record the binary frame the SDK server answers."""
    obs = Observation(address=address, port=port, protocol="hiksdk")
    try:
        data = await _exchange(address, port, HIK_PROBE, timeout, _read_hik)
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        obs.error = classify(exc)
        return obs
    obs.fields["hiksdk.response_hex"] = data[:HEX_KEPT].hex()
    obs.fields["hiksdk.magic"] = data[:4].hex()
    if len(data) >= 4:
        obs.fields["hiksdk.length"] = str(struct.unpack(">I", data[:4])[0])
    obs.raw = data[:MAX_RAW // 2].hex()
    return obs


# --- Dahua ----------------------------------------------------------------------------------

async def _read_dvrip(conn: Conn) -> tuple[bytes, bytes]:
    header = await conn.reader.readexactly(DVRIP_HEADER)
    (length,) = struct.unpack("<I", header[4:8])
    if length > DVRIP_MAX_BODY:
        raise ProbeError("oversized", f"DVRIP body length {length}")
    body = await conn.read_exactly(length) if length else b""
    return header, body


async def probe_dvrip(address: str, port: int = 37777, *, timeout: float) -> Observation:
    """Ask for the login realm (no credential sent); record header and realm."""
    obs = Observation(address=address, port=port, protocol="dvrip")
    try:
        header, body = await _exchange(address, port, DVRIP_REALM_REQUEST, timeout, _read_dvrip)
    except Exception as exc:  # noqa: BLE001
        obs.error = classify(exc)
        return obs
    obs.fields["dvrip.response_hex"] = (header + body)[:HEX_KEPT].hex()
    obs.fields["dvrip.magic"] = header[:1].hex()
    for line in text(body).splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "realm" and value.strip():
            obs.fields["dvrip.realm"] = value.strip()[:256]
    obs.raw = (header.hex() + ("\n" + text(body) if body else ""))[:MAX_RAW]
    return obs


# --- Xiongmai -------------------------------------------------------------------------------

def sofia_hash(password: str) -> str:
    """The 8-character password digest of Sofia firmware: MD5 folded pairwise, base 62."""
    digest = hashlib.md5(password.encode("utf-8")).digest()  # noqa: S324 - protocol-defined
    return "".join(SOFIA_CHARS[(a + b) % 62] for a, b in zip(digest[::2], digest[1::2], strict=True))


def xm_packet(session: int, sequence: int, msg: int, body: dict[str, Any]) -> bytes:
    """One Sofia packet: 20-byte header, JSON, LF, NUL."""
    payload = json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n\x00"
    return XM_HEADER.pack(XM_MAGIC, XM_VERSION, session, sequence, 0, 0, msg, len(payload)) + payload


async def _read_xm(conn: Conn) -> tuple[tuple[int, ...], bytes]:
    """One reply packet: (header fields, body bytes)."""
    header = await conn.reader.readexactly(XM_HEADER.size)
    fields = XM_HEADER.unpack(header)
    if fields[0] != XM_MAGIC:
        raise ProbeError("malformed", f"not a Sofia header: {header[:4].hex()}")
    length = fields[7]
    if length > XM_MAX_BODY:
        raise ProbeError("oversized", f"Sofia body length {length}")
    body = await conn.read_exactly(length) if length else b""
    return fields, header + body


def _xm_json(packet: bytes) -> dict[str, Any]:
    """The JSON object of a reply packet ({} when it is not one)."""
    body = packet[XM_HEADER.size:].rstrip(b"\x00\n\r ")
    try:
        value = json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str:
    return text(str(value).encode("utf-8", errors="replace"))[:256].strip()


async def probe_xmeye(address: str, port: int = 34567, *, timeout: float) -> Observation:
    """Send a session-less SystemInfo request; record the header and Ret."""
    obs = Observation(address=address, port=port, protocol="xmeye")
    request = xm_packet(0, 0, XM_SYSINFO, {"Name": "SystemInfo", "SessionID": "0x00000000"})
    try:
        header, packet = await _exchange(address, port, request, timeout, _read_xm)
    except Exception as exc:  # noqa: BLE001
        obs.error = classify(exc)
        return obs
    reply = _xm_json(packet)
    obs.fields["xmeye.magic"] = "ff"
    obs.fields["xmeye.response_hex"] = packet[:HEX_KEPT].hex()
    obs.fields["xmeye.session"] = f"0x{header[2]:08X}"
    obs.fields["xmeye.msg"] = str(header[6])
    if "Ret" in reply:
        obs.fields["xmeye.ret"] = _short(reply["Ret"])
    info = reply.get("SystemInfo")
    if reply.get("Ret") == XM_OK and isinstance(info, dict):
        obs.fields["xmeye.unauthenticated_info"] = "true"
        for key, field in (("HardWare", "xmeye.hardware"), ("SoftWareVersion", "xmeye.software"),
                           ("SerialNo", "xmeye.serial")):
            if info.get(key):
                obs.fields[field] = _short(info[key])
    obs.raw = text(packet[XM_HEADER.size:])[:MAX_RAW]
    return obs


async def _xm_login(conn: Conn, username: str, password: str) -> tuple[AuthResult, dict[str, Any], int]:
    """Send the login; (result, reply JSON, session id)."""
    await conn.send(xm_packet(0, 0, XM_LOGIN, {
        "EncryptType": "MD5", "LoginType": "DVRIP-Web",
        "PassWord": sofia_hash(password), "UserName": username}))
    header, packet = await _read_xm(conn)
    reply = _xm_json(packet)
    ret = reply.get("Ret")
    if not isinstance(ret, int):
        return AuthResult(AuthOutcome.ERROR, "login reply without Ret"), reply, 0
    if ret == XM_OK:
        try:
            session = int(str(reply.get("SessionID", "")), 16)
        except ValueError:
            session = header[2]
        return AuthResult(AuthOutcome.SUCCESS, "Ret 100", ret), reply, session
    if ret in XM_LOCKED:
        return AuthResult(AuthOutcome.LOCKED, XM_LOCKED[ret], ret), reply, 0
    if ret in XM_FAILED:
        return AuthResult(AuthOutcome.FAILURE, XM_FAILED[ret], ret), reply, 0
    return AuthResult(AuthOutcome.ERROR, f"Ret {ret}", ret), reply, 0


async def xmeye_login(address: str, port: int, username: str, password: str, *,
                      timeout: float) -> AuthResult:
    """One Sofia login (message 1000, DVRIP-Web, MD5 Sofia hash); close right after."""
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            result, _, _ = await _xm_login(conn, username, password)
            return result
    except Exception as exc:  # noqa: BLE001
        return AuthResult(AuthOutcome.ERROR, classify(exc))
    finally:
        if conn is not None:
            await conn.close()


async def xmeye_info(address: str, port: int, username: str, password: str, *,
                     timeout: float) -> dict[str, str]:
    """Log in, read SystemInfo (message 1020): device.* facts; {} when anything fails."""
    conn: Conn | None = None
    facts: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            result, login_reply, session = await _xm_login(conn, username, password)
            if result.outcome is not AuthOutcome.SUCCESS:
                return {}
            await conn.send(xm_packet(session, 1, XM_SYSINFO,
                                      {"Name": "SystemInfo", "SessionID": f"0x{session:08X}"}))
            _, packet = await _read_xm(conn)
    except Exception:  # noqa: BLE001 - enrichment is best effort
        return {}
    finally:
        if conn is not None:
            await conn.close()
    info = _xm_json(packet).get("SystemInfo")
    if not isinstance(info, dict):
        return {}
    facts["device.vendor"] = "Xiongmai"
    for key, fact in (("HardWare", "device.model"), ("SoftWareVersion", "device.firmware"),
                      ("SerialNo", "device.serial")):
        if info.get(key):
            facts[fact] = _short(info[key])
    # Sofia firmware spells this key with a trailing space ("DeviceType ")
    kind = next((v for k, v in login_reply.items() if k.strip() == "DeviceType"), None)
    if isinstance(kind, str) and kind.strip().upper() in XM_KINDS:
        facts["device.kind"] = XM_KINDS[kind.strip().upper()]
    return facts
