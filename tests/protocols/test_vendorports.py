"""Vendor binary ports against fake servers that answer the way the devices do."""

from __future__ import annotations

import asyncio
import functools
import json
import struct
import time
from collections.abc import Awaitable, Callable

import pytest
from fakeserver import serve as fake_serve

from camaudit.model import AuthOutcome
from camaudit.protocols import vendorports as vp

HOST = "127.45.0.1"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SOFIA = struct.Struct("<BBxxIIBBHI")


serve = functools.partial(fake_serve, host=HOST)


def send_then_hold(data: bytes, hold: float = 1.0) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(reader.read(64), 2)
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(hold)
    return handler


def test_sofia_hash_known_values() -> None:
    assert vp.sofia_hash("") == "tlJwpbo6"  # the well-known hash of the empty password
    assert len(vp.sofia_hash("admin123")) == 8 and vp.sofia_hash("admin123") != vp.sofia_hash("admin124")


# ------------------------------------------------------------------ Hikvision 8000

async def test_hiksdk_error_frame() -> None:
    frame = bytes.fromhex("000000100000001e0000001e00000000")
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await asyncio.wait_for(reader.read(64), 2))
        writer.write(frame[:6])  # split across two segments
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(frame[6:])
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(handler) as port:
        obs = await vp.probe_hiksdk(HOST, port, timeout=2)
    assert seen == [b"\r\n\r\n"]
    assert obs.error is None, obs
    assert obs.fields["hiksdk.response_hex"] == frame.hex()
    assert obs.fields["hiksdk.magic"] == "00000010" and obs.fields["hiksdk.length"] == "16"


async def test_hiksdk_huge_length_not_followed() -> None:
    async with serve(send_then_hold(b"\xff\xff\xff\xf0" + b"A" * 12)) as port:
        t0 = time.monotonic()
        obs = await vp.probe_hiksdk(HOST, port, timeout=2)
    assert time.monotonic() - t0 < 1.0
    assert obs.error is None and obs.fields["hiksdk.response_hex"].startswith("fffffff0")


async def test_hiksdk_silent_and_closed() -> None:
    async with serve(send_then_hold(b"", hold=3)) as port:
        silent = await vp.probe_hiksdk(HOST, port, timeout=0.5)
    async with serve(send_then_hold(b"", hold=0)) as port:
        closed = await vp.probe_hiksdk(HOST, port, timeout=2)
    assert silent.error == "timeout" and closed.error == "reset"


# ------------------------------------------------------------------ Dahua 37777

def dvrip_reply(body: bytes, declared: int | None = None) -> bytes:
    header = (b"\xb0\x01\x00\x68" + struct.pack("<I", len(body) if declared is None else declared)
              + b"\x00" * 24)
    return header + body


async def test_dvrip_realm() -> None:
    seen: list[bytes] = []
    body = b"Realm:Login to 4C05C8APAZ1B2C3\r\nRandom:1439581246\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await asyncio.wait_for(reader.readexactly(32), 2))
        writer.write(dvrip_reply(body))
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(handler) as port:
        obs = await vp.probe_dvrip(HOST, port, timeout=2)
    assert seen[0][:2] == b"\xa0\x01" and seen[0][4:24] == b"\x00" * 20  # no user, no password
    assert obs.error is None, obs
    assert obs.fields["dvrip.magic"] == "b0"
    assert obs.fields["dvrip.realm"] == "Login to 4C05C8APAZ1B2C3"
    assert obs.fields["dvrip.response_hex"].startswith("b0010068")


@pytest.mark.parametrize("reply,error", [
    (dvrip_reply(b"x" * 10, declared=0x7FFFFFFF), "oversized"),
    (dvrip_reply(b"Realm:abc", declared=200), "reset"),  # shorter than declared, then closed
    (b"\xb0\x01\x00", "reset"),
])
async def test_dvrip_hostile(reply: bytes, error: str) -> None:
    async with serve(send_then_hold(reply, hold=0)) as port:
        obs = await vp.probe_dvrip(HOST, port, timeout=2)
    assert obs.error == error, obs


# ------------------------------------------------------------------ Xiongmai 34567

class FakeSofia:
    """A Sofia device: admin / admin123, locks the account after 3 wrong passwords."""

    def __init__(self, leak_info: bool = False) -> None:
        self.failures = 0
        self.leak_info = leak_info
        self.messages: list[tuple[int, dict]] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = 0
        while True:
            header = await asyncio.wait_for(reader.readexactly(20), 3)
            magic, _ver, sess, seq, _a, _b, msg, length = SOFIA.unpack(header)
            body = json.loads((await reader.readexactly(length)).rstrip(b"\x00\n"))
            self.messages.append((msg, body))
            if msg == 1000:
                if self.failures >= 3:
                    reply, rmsg = {"Ret": 205, "SessionID": "0x00000000"}, 1001
                elif body["UserName"] == "admin" and body["PassWord"] == vp.sofia_hash("admin123"):
                    session = 0x1B
                    reply, rmsg = {"AliveInterval": 20, "ChannelNum": 4, "DeviceType ": "DVR",
                                   "ExtraChannel": 0, "Ret": 100, "SessionID": "0x0000001B"}, 1001
                else:
                    self.failures += 1
                    reply, rmsg = {"Ret": 203, "SessionID": "0x00000000"}, 1001
            elif msg == 1020:
                if session and body.get("SessionID") == f"0x{session:08X}" or self.leak_info:
                    reply = {"Name": "SystemInfo", "Ret": 100, "SessionID": f"0x{session:08X}",
                             "SystemInfo": {"HardWare": "HI3520D_50H10L", "SerialNo": "d7e8f9a0b1c2d3e4",
                                            "SoftWareVersion": "V4.02.R11.34500140.10001.130700.00000",
                                            "BuildTime": "2018-11-13 10:00:00"}}
                else:
                    reply = {"Name": "", "Ret": 105, "SessionID": "0x00000000"}
                rmsg = 1021
            else:
                return
            payload = json.dumps(reply).encode() + b"\n\x00"
            writer.write(SOFIA.pack(0xFF, 1, session, seq, 0, 0, rmsg, len(payload)) + payload)
            await writer.drain()


async def test_xmeye_probe_is_not_a_login() -> None:
    device = FakeSofia()
    async with serve(device) as port:
        obs = await vp.probe_xmeye(HOST, port, timeout=2)
    assert [m for m, _ in device.messages] == [1020]
    assert obs.error is None, obs
    assert obs.fields["xmeye.magic"] == "ff" and obs.fields["xmeye.ret"] == "105"
    assert obs.fields["xmeye.msg"] == "1021" and obs.fields["xmeye.session"] == "0x00000000"
    assert "xmeye.unauthenticated_info" not in obs.fields


async def test_xmeye_probe_unauthenticated_leak() -> None:
    async with serve(FakeSofia(leak_info=True)) as port:
        obs = await vp.probe_xmeye(HOST, port, timeout=2)
    assert obs.fields["xmeye.unauthenticated_info"] == "true"
    assert obs.fields["xmeye.hardware"] == "HI3520D_50H10L"


async def test_xmeye_login_and_info() -> None:
    device = FakeSofia()
    async with serve(device) as port:
        good = await vp.xmeye_login(HOST, port, "admin", "admin123", timeout=2)
        info = await vp.xmeye_info(HOST, port, "admin", "admin123", timeout=2)
        bad_info = await vp.xmeye_info(HOST, port, "admin", "nope", timeout=2)
    assert good.outcome is AuthOutcome.SUCCESS and good.status == 100, good
    login_body = device.messages[0][1]
    assert login_body == {"EncryptType": "MD5", "LoginType": "DVRIP-Web",
                          "PassWord": vp.sofia_hash("admin123"), "UserName": "admin"}
    assert info == {"device.vendor": "Xiongmai", "device.model": "HI3520D_50H10L",
                    "device.firmware": "V4.02.R11.34500140.10001.130700.00000",
                    "device.serial": "d7e8f9a0b1c2d3e4", "device.kind": "dvr"}
    assert bad_info == {}


async def test_xmeye_failure_then_lockout() -> None:
    device = FakeSofia()
    async with serve(device) as port:
        results = [await vp.xmeye_login(HOST, port, "admin", f"guess{i}", timeout=2) for i in range(4)]
    assert [r.outcome for r in results] == [AuthOutcome.FAILURE] * 3 + [AuthOutcome.LOCKED]
    assert results[0].status == 203 and results[3].status == 205


def sofia_reply(body: bytes, *, declared: int | None = None, magic: int = 0xFF) -> bytes:
    return SOFIA.pack(magic, 1, 0, 0, 0, 0, 1001, len(body) if declared is None else declared) + body


@pytest.mark.parametrize("reply,error", [
    (sofia_reply(b"{}", declared=0x00FFFFFF), "oversized"),
    (sofia_reply(b'{"Ret":100}', magic=0x7B), "malformed"),
    (sofia_reply(b'{"Ret":1', declared=50), "reset"),
    (b"\xff\x01\x00", "reset"),
])
async def test_xmeye_hostile(reply: bytes, error: str) -> None:
    async with serve(send_then_hold(reply, hold=0)) as port:
        obs = await vp.probe_xmeye(HOST, port, timeout=2)
        result = await vp.xmeye_login(HOST, port, "admin", "x", timeout=2)
        info = await vp.xmeye_info(HOST, port, "admin", "x", timeout=2)
    assert obs.error == error, obs
    assert result.outcome is AuthOutcome.ERROR and result.detail == error
    assert info == {}


async def test_xmeye_not_json_and_deep_nesting() -> None:
    async with serve(send_then_hold(sofia_reply(b"[" * 10000 + b"\n\x00"))) as port:
        result = await vp.xmeye_login(HOST, port, "admin", "x", timeout=2)
    assert result.outcome is AuthOutcome.ERROR and "Ret" in result.detail


async def test_drip_respects_deadline() -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(64)
        for b in sofia_reply(b'{"Ret":100,"SessionID":"0x1"}\n\x00'):
            writer.write(bytes((b,)))
            await writer.drain()
            await asyncio.sleep(0.05)

    async with serve(drip) as port:
        t0 = time.monotonic()
        results = await asyncio.gather(
            vp.probe_xmeye(HOST, port, timeout=0.6), vp.probe_dvrip(HOST, port, timeout=0.6),
            vp.probe_hiksdk(HOST, port, timeout=0.6), vp.xmeye_login(HOST, port, "a", "b", timeout=0.6))
        assert time.monotonic() - t0 < 1.5
    assert results[0].error == "timeout" and results[1].error == "timeout"
    assert results[3].detail == "timeout"
