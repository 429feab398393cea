"""Telnet client: real busybox telnetd + busybox login, and small hostile fake servers."""

from __future__ import annotations

import asyncio
import functools
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fakeserver import free_port
from fakeserver import serve as fake_serve

from camaudit.model import AuthOutcome
from camaudit.protocols import telnet

HOST = "127.41.0.1"
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


serve = functools.partial(fake_serve, host=HOST)


async def read_line(reader: asyncio.StreamReader) -> bytes:
    """A line from the client, IAC replies removed."""
    data = await asyncio.wait_for(reader.readuntil(b"\n"), 3)
    while IAC in data:
        i = data.index(IAC)
        data = data[:i] + data[i + 3:]
    return data


# ------------------------------------------------------------------ real busybox telnetd

def _busybox_has(applet: str) -> bool:
    bb = shutil.which("busybox")
    if not bb:
        return False
    out = subprocess.run([bb, "--list"], capture_output=True, text=True, check=False).stdout
    return applet in out.split()


def _need_real(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} missing and CI=true")
        pytest.skip(f"{what} not installed (apt-get install busybox-static)")




@pytest.fixture(scope="module")
def busybox_telnetd(tmp_path_factory: pytest.TempPathFactory):
    """busybox telnetd + login in a private mount namespace with its own passwd/shadow."""
    _need_real(_busybox_has("telnetd") and _busybox_has("login") and shutil.which("unshare")
               and shutil.which("openssl"), "busybox telnetd/login, unshare, openssl")
    work: Path = tmp_path_factory.mktemp("telnetd")
    (work / "login").symlink_to(shutil.which("busybox"))
    digest = subprocess.run(["openssl", "passwd", "-1", "Cam-Pass-91"], capture_output=True,
                            text=True, check=True).stdout.strip()
    (work / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                 "admin:x:4242:4242:admin:/tmp:/bin/sh\n")
    (work / "shadow").write_text(f"root:*:19000:0:99999:7:::\nadmin:{digest}:19000:0:99999:7:::\n")
    (work / "shadow").chmod(0o600)
    (work / "issue").write_text("IPC-Test telnet service\n")
    port = free_port("127.41.0.2")
    script = (f"mount --bind {work}/passwd /etc/passwd && mount --bind {work}/shadow /etc/shadow"
              f" && exec busybox telnetd -F -b 127.41.0.2:{port} -l {work}/login -f {work}/issue")
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.41.0.2", port), 0.2):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("busybox telnetd did not start")
    yield "127.41.0.2", port
    os.killpg(proc.pid, 15)  # telnetd and the login/shell children it spawned
    proc.wait(5)


async def test_real_busybox_probe_and_logins(busybox_telnetd) -> None:
    host, port = busybox_telnetd
    obs = await telnet.probe(host, port, timeout=4)
    assert obs.error is None, obs
    assert "IPC-Test telnet service" in obs.fields["telnet.banner"]
    assert obs.fields["telnet.prompt"].endswith("login:")
    assert "\xff" not in obs.raw
    good, bad = await asyncio.gather(
        telnet.try_login(host, port, "admin", "Cam-Pass-91", timeout=8),
        telnet.try_login(host, port, "admin", "wrong-pass", timeout=8))
    assert good.outcome is AuthOutcome.SUCCESS, good
    assert bad.outcome is AuthOutcome.FAILURE, bad
    assert "incorrect" in bad.detail.lower()


# ------------------------------------------------------------------ fake servers

async def test_negotiation_refused_once_and_nothing_sent_after_success() -> None:
    seen: dict[str, bytes] = {}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes((IAC, DO, 1, IAC, WILL, 3, IAC, DO, 1, IAC, SB, 31, 0, 80, 0, 24, IAC, SE))
                     + b"\r\nHikvision telnet\r\nlogin: ")
        await writer.drain()
        seen["user"] = await read_line(reader)
        writer.write(b"Password: ")
        await writer.drain()
        seen["pass"] = await read_line(reader)
        writer.write(b"\r\n\r\nBusyBox v1.19.3 (2016-01-01) built-in shell (ash)\r\n# ")
        await writer.drain()
        seen["after"] = await asyncio.wait_for(reader.read(100), 3)  # b"" when client closes

    async with serve(handler) as port:
        result = await telnet.try_login(HOST, port, "root", "12345", timeout=3)
        await asyncio.sleep(0.3)  # let the server see the close
    assert result.outcome is AuthOutcome.SUCCESS, result
    assert seen["user"] == b"root\r\n" and seen["pass"] == b"12345\r\n"
    assert seen["after"] == b""


async def test_option_replies_are_wont_dont_once() -> None:
    got = bytearray()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flood = b"".join(bytes((IAC, DO, o, IAC, WILL, o)) for o in range(40)) * 5
        writer.write(flood + b"login: ")
        await writer.drain()
        with contextlib.suppress(asyncio.TimeoutError):
            while chunk := await asyncio.wait_for(reader.read(4096), 0.5):
                got.extend(chunk)

    async with serve(handler) as port:
        obs = await telnet.probe(HOST, port, timeout=2)
        await asyncio.sleep(0.7)  # let the server read our replies
    assert obs.error is None and obs.fields["telnet.prompt"] == "login:"
    expected = b"".join(bytes((IAC, WONT, o)) for o in range(40))
    assert bytes(got).count(bytes((IAC, WONT))) == 40 and bytes(got).count(bytes((IAC, DONT))) == 40
    assert all(bytes((IAC, WONT, o)) in got for o in range(40)) and len(got) == 2 * len(expected)


@pytest.mark.parametrize("answer,outcome", [
    (b"\r\nLogin incorrect\r\n\r\ncam login: ", AuthOutcome.FAILURE),
    (b"\r\nAccount locked for 300 seconds\r\n", AuthOutcome.LOCKED),
    (b"\r\nToo many failed attempts, try again later\r\nlogin: ", AuthOutcome.LOCKED),
    (b"\r\n\r\nWelcome admin\r\nnvr> ", AuthOutcome.SUCCESS),
    (b"\r\nLogin incorrect\r\n", AuthOutcome.FAILURE),  # then closed
])
async def test_classification(answer: bytes, outcome: AuthOutcome) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Username: ")
        await writer.drain()
        await read_line(reader)
        writer.write(b"Password: ")
        await writer.drain()
        await read_line(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(0.2)

    async with serve(handler) as port:
        result = await telnet.try_login(HOST, port, "admin", "bad", timeout=2)
    assert result.outcome is outcome, result
    assert "bad" not in result.detail


async def test_shell_without_login_is_no_auth() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\r\nBusyBox v1.20.2 built-in shell (ash)\r\nEnter 'help' for a list.\r\n\r\n# ")
        await writer.drain()
        await asyncio.sleep(0.5)

    async with serve(handler) as port:
        result = await telnet.try_login(HOST, port, "root", "x", timeout=2)
        obs = await telnet.probe(HOST, port, timeout=2)
    assert result.outcome is AuthOutcome.NO_AUTH, result
    assert obs.fields["telnet.prompt"] == "#" and "BusyBox v1.20.2" in obs.fields["telnet.banner"]


async def test_closed_at_once_is_locked() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    async with serve(handler) as port:
        result = await telnet.try_login(HOST, port, "root", "x", timeout=2)
        obs = await telnet.probe(HOST, port, timeout=2)
    assert result.outcome is AuthOutcome.LOCKED, result
    assert obs.error == "reset"


async def test_drip_respects_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for b in b"Welcome to a very slow device, please wait forever" * 10:
            writer.write(bytes((b,)))
            await writer.drain()
            await asyncio.sleep(0.05)

    async with serve(handler) as port:
        t0 = time.monotonic()
        obs = await telnet.probe(HOST, port, timeout=1.0)
        result = await telnet.try_login(HOST, port, "root", "x", timeout=1.0)
        elapsed = time.monotonic() - t0
    assert elapsed < 3.0
    assert obs.error is None and obs.fields["telnet.banner"].startswith("Welcome")  # partial banner kept
    assert result.outcome is AuthOutcome.ERROR and result.detail == "timeout"


async def test_garbage_flood_is_bounded() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        junk = bytes(range(0x41, 0x5b)) * 20000  # ~500 KB of letters: no prompt, no newline
        writer.write(junk)
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(handler) as port:
        obs = await telnet.probe(HOST, port, timeout=3)
    assert obs.error == "oversized"
    assert len(obs.raw) <= 4096


async def test_reset_mid_read() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Welc")
        await writer.drain()
        await asyncio.sleep(0.1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with serve(handler) as port:
        obs = await telnet.probe(HOST, port, timeout=2)
        result = await telnet.try_login(HOST, port, "root", "x", timeout=2)
    assert obs.error == "reset"
    assert obs.fields.get("telnet.banner") == "Welc"
    assert result.outcome is AuthOutcome.ERROR


async def test_refused() -> None:
    port = free_port(HOST)
    obs = await telnet.probe(HOST, port, timeout=1)
    result = await telnet.try_login(HOST, port, "root", "x", timeout=1)
    assert obs.error == "refused" and result.outcome is AuthOutcome.ERROR
