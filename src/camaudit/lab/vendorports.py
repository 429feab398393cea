"""Vendor binary ports: Xiongmai NetSurveillance "Sofia" (34567), Dahua DVRIP (37777) and the
Hikvision SDK port (8000).  Sofia is emulated in full for login, keep-alive and SystemInfo;
DVRIP and the Hikvision SDK port answer their login packet with the framing the real devices
use (see the report for what is simplified)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import string
import struct
from dataclasses import dataclass
from typing import Any

from camaudit.lab.auth import Gate

IDLE = 60.0
SOFIA_HEADER = struct.Struct("<BBHIIBBHI")  # head, version, reserved, session, seq, total, cur, msg, len
SOFIA_MAX = 64 * 1024
SOFIA_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
LOGIN_REQ, LOGIN_RSP, KEEPALIVE_REQ, KEEPALIVE_RSP, SYSINFO_REQ, SYSINFO_RSP = 1000, 1001, 1006, 1007, 1020, 1021


def sofia_hash(password: str) -> str:
    """Xiongmai's 8-character password hash: MD5, then byte pairs summed modulo 62."""
    d = hashlib.md5(password.encode()).digest()
    return "".join(SOFIA_ALPHABET[(d[2 * i] + d[2 * i + 1]) % 62] for i in range(8))


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


@dataclass
class SofiaInfo:
    model: str
    firmware: str
    serial: str
    channels: int = 8
    build_time: str = "2014-12-01 10:22:41"


class SofiaSession:
    """``info_without_login``: old firmware answers SystemInfo with session 0;
    ``words_failures_apart``: Ret 204 (no such user) apart from 203 (wrong password)."""

    def __init__(self, gate: Gate, info: SofiaInfo, *, info_without_login: bool = False,
                 words_failures_apart: bool = False) -> None:
        self.gate = gate
        self.info = info
        self.info_without_login = info_without_login
        self.words_failures_apart = words_failures_apart

    def frame(self, session: int, seq: int, msg: int, payload: dict[str, Any]) -> bytes:
        body = json.dumps(payload, separators=(", ", " : ")).encode() + b"\x0a\x00"
        return SOFIA_HEADER.pack(0xFF, 0x01, 0, session, seq, 0, 0, msg, len(body)) + body

    def system_info(self, sid: str) -> dict[str, Any]:
        i = self.info
        return {"Name": "SystemInfo", "Ret": 100, "SessionID": sid, "SystemInfo": {
            "AlarmInChannel": 4, "AlarmOutChannel": 1, "AudioInChannel": 1,
            "BuildTime": i.build_time, "CombineSwitch": 0, "DeviceRunTime": "0x0001A3C2",
            "DigChannel": 0, "EncryptVersion": "Unknown", "ExtraChannel": 0,
            "HardWare": i.model, "HardWareVersion": "Unknown", "SerialNo": i.serial,
            "SoftWareVersion": i.firmware, "TalkInChannel": 1, "TalkOutChannel": 1,
            "UpdataTime": "", "UpdataType": "0x00000000",
            "VideoInChannel": i.channels, "VideoOutChannel": 1}}

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = (writer.get_extra_info("peername") or ("", 0))[0]
        session = 0
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(SOFIA_HEADER.size), IDLE)
                magic, _ver, _res, sess, seq, _t, _c, msg, length = SOFIA_HEADER.unpack(head)
                if magic != 0xFF or length > SOFIA_MAX:
                    return  # the real Sofia drops the connection on a bad frame
                raw = await asyncio.wait_for(reader.readexactly(length), IDLE) if length else b""
                try:
                    req = json.loads(raw.rstrip(b"\x00\n").decode("utf-8") or "{}")
                except (UnicodeDecodeError, json.JSONDecodeError):
                    req = {}
                if not isinstance(req, dict):
                    req = {}
                sid = f"0x{session:08X}"
                if msg == LOGIN_REQ:
                    user = str(req.get("UserName", ""))
                    sent = str(req.get("PassWord", ""))
                    md5 = str(req.get("EncryptType", "MD5")).upper() == "MD5"
                    outcome = self.gate.check("xmeye", source, user, None,
                                              verify=lambda pw: (sofia_hash(pw) if md5 else pw) == sent)
                    if outcome == "success":
                        session = secrets.randbelow(0x7FFFFFFF) + 1
                        ret = {"AliveInterval": 21, "ChannelNum": self.info.channels,
                               "DeviceType ": "DVR", "ExtraChannel": 0, "Ret": 100,
                               "SessionID": f"0x{session:08X}"}
                    else:
                        known = user in self.gate.accounts.get("xmeye", {})
                        code = 205 if outcome == "locked" else (
                            204 if self.words_failures_apart and not known else 203)
                        ret = {"AliveInterval": 0, "ChannelNum": 0, "DeviceType ": "",
                               "ExtraChannel": 0, "Ret": code, "SessionID": "0x00000000"}
                    writer.write(self.frame(session, seq, LOGIN_RSP, ret))
                elif msg == SYSINFO_REQ and self.info_without_login and not session:
                    writer.write(self.frame(0, seq, SYSINFO_RSP, self.system_info(sid)))
                elif not session or sess != session:
                    writer.write(self.frame(0, seq, msg + 1, {"Name": req.get("Name", ""),
                                                              "Ret": 103, "SessionID": sid}))
                elif msg == KEEPALIVE_REQ:
                    writer.write(self.frame(session, seq, KEEPALIVE_RSP,
                                            {"Name": "KeepAlive", "Ret": 100, "SessionID": sid}))
                elif msg == SYSINFO_REQ:
                    writer.write(self.frame(session, seq, SYSINFO_RSP, self.system_info(sid)))
                else:
                    writer.write(self.frame(session, seq, msg + 1,
                                            {"Name": req.get("Name", ""), "Ret": 102, "SessionID": sid}))
                await writer.drain()
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return
        finally:
            await _close(writer)


class DvripSession:
    """Dahua DVRIP: 32-byte binary header; login (0xa0) answered with 0xb0 and a result code
    (0 ok, 1 bad password, 2 no such user, 4 locked) at offset 8."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        source = (writer.get_extra_info("peername") or ("", 0))[0]
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(32), IDLE)
                ext = struct.unpack_from("<I", head, 4)[0]
                if ext > 4096:
                    return
                data = await asyncio.wait_for(reader.readexactly(ext), IDLE) if ext else b""
                if head[0] != 0xA0:
                    return  # anything but a login before login: the device hangs up
                if data and b"&&" in data:
                    user_b, _, pw_b = data.partition(b"&&")
                else:
                    user_b, pw_b = head[8:16], head[16:24]
                user = user_b.rstrip(b"\x00").decode("latin-1")
                pw = pw_b.rstrip(b"\x00").decode("latin-1")
                known = user in self.gate.accounts.get("http", {})
                outcome = self.gate.check("dvrip", source, user, pw,
                                          verify=lambda real: real == pw)
                code = {"success": 0, "locked": 4}.get(outcome, 1 if known else 2)
                reply = bytearray(32)
                reply[0] = 0xB0
                reply[8] = code
                reply[9] = 0x00
                reply[10] = 0x08  # protocol minor version in the answers of 2.x firmware
                if code == 0:
                    struct.pack_into("<I", reply, 16, secrets.randbelow(0x7FFFFFFF) + 1)
                writer.write(bytes(reply))
                await writer.drain()
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return
        finally:
            await _close(writer)


class HikSdkSession:
    """Hikvision SDK (port 8000): the client's packet starts with its big-endian total length;
    the device answers with a 16-byte header whose status word says why the login failed."""

    STATUS_BAD_PACKET = 0x00000006
    STATUS_LOGIN_FAILED = 0x00000001

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readexactly(4), IDLE)
            total = struct.unpack("!I", head)[0]
            status = self.STATUS_BAD_PACKET
            if 32 <= total <= 4096:
                await asyncio.wait_for(reader.readexactly(total - 4), IDLE)
                status = self.STATUS_LOGIN_FAILED
            writer.write(struct.pack("!IIII", 16, 0, status, 0))
            await writer.drain()
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return
        finally:
            await _close(writer)
