"""FTP client: real vsftpd (private config and accounts) and hostile fake servers."""

from __future__ import annotations

import asyncio
import functools
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fakeserver import free_port
from fakeserver import serve as fake_serve

from camaudit.model import AuthOutcome
from camaudit.protocols import ftp

HOST = "127.42.0.1"
VSFTPD_HOST = "127.42.0.2"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


serve = functools.partial(fake_serve, host=HOST)




# ------------------------------------------------------------------ real vsftpd

@pytest.fixture(scope="module")
def vsftpd(tmp_path_factory: pytest.TempPathFactory):
    """vsftpd with anonymous and one local account, in a private mount namespace."""
    if not (shutil.which("vsftpd") and shutil.which("unshare") and shutil.which("openssl")):
        if os.environ.get("CI") == "true":
            pytest.fail("vsftpd/unshare/openssl missing and CI=true")
        pytest.skip("vsftpd not installed (apt-get install vsftpd)")
    work: Path = tmp_path_factory.mktemp("vsftpd")
    for d in ("empty", "anon"):
        (work / d).mkdir()
    os.chmod(work / "anon", 0o555)
    digest = subprocess.run(["openssl", "passwd", "-6", "Ftp-Pass-77"], capture_output=True,
                            text=True, check=True).stdout.strip()
    (work / "passwd").write_text(
        "camftp:x:4242:4242:camftp:/:/bin/sh\n"  # pytest's tmp is 0700: home must be reachable
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        f"ftp:x:4243:4243:ftp:{work}/anon:/usr/sbin/nologin\n")
    (work / "shadow").write_text(f"camftp:{digest}:19000:0:99999:7:::\n"
                                 "nobody:*:19000:0:99999:7:::\nftp:*:19000:0:99999:7:::\n")
    (work / "shadow").chmod(0o600)
    port = free_port(VSFTPD_HOST)
    conf = work / "vsftpd.conf"
    conf.write_text("\n".join([
        "listen=YES", "listen_ipv6=NO", f"listen_address={VSFTPD_HOST}", f"listen_port={port}",
        "background=NO", "anonymous_enable=YES", "local_enable=YES", "write_enable=NO",
        f"anon_root={work}/anon", f"secure_chroot_dir={work}/empty", "pam_service_name=vsftpd",
        "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO", "delay_failed_login=0",
        "max_login_fails=3", "ftpd_banner=IPC FTP service ready.", "xferlog_enable=NO",
        "connect_from_port_20=NO", "userlist_enable=NO", "max_per_ip=20", ""]))
    script = (f"mount --bind {work}/passwd /etc/passwd && mount --bind {work}/shadow /etc/shadow"
              f" && exec vsftpd {conf}")
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((VSFTPD_HOST, port), 0.2):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"vsftpd did not start: {proc.stderr.read() if proc.stderr else ''}")
    yield port
    os.killpg(proc.pid, 15)
    proc.wait(5)


async def test_real_vsftpd(vsftpd: int) -> None:
    obs = await ftp.probe(VSFTPD_HOST, vsftpd, timeout=3)
    assert obs.error is None, obs
    assert obs.fields["ftp.banner"] == "220 IPC FTP service ready." and obs.fields["ftp.code"] == "220"
    anon, good, bad = await asyncio.gather(
        ftp.try_login(VSFTPD_HOST, vsftpd, "anonymous", "camaudit@", timeout=5),
        ftp.try_login(VSFTPD_HOST, vsftpd, "camftp", "Ftp-Pass-77", timeout=5),
        ftp.try_login(VSFTPD_HOST, vsftpd, "camftp", "wrong", timeout=5))
    assert anon.outcome is AuthOutcome.SUCCESS and anon.status == 230, anon
    assert good.outcome is AuthOutcome.SUCCESS and good.status == 230, good
    assert bad.outcome is AuthOutcome.FAILURE and bad.status == 530, bad


# ------------------------------------------------------------------ fake servers

def fake_ftp(greeting: bytes, user_reply: bytes, pass_reply: bytes | None,
             log: list[bytes] | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), 3):
            if log is not None:
                log.append(line)
            if line.startswith(b"USER"):
                writer.write(user_reply)
            elif line.startswith(b"PASS") and pass_reply is not None:
                writer.write(pass_reply)
            elif line.startswith(b"QUIT"):
                writer.write(b"221 Goodbye.\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"500 Unknown command.\r\n")
            await writer.drain()
    return handler


@pytest.mark.parametrize("greeting,user,pw,outcome,status", [
    (b"220 ok\r\n", b"331 Password required\r\n", b"230 Logged in\r\n", AuthOutcome.SUCCESS, 230),
    (b"220 ok\r\n", b"331 Password required\r\n", b"530 Login incorrect.\r\n", AuthOutcome.FAILURE, 530),
    (b"421 Too many connections from your IP\r\n", b"", None, AuthOutcome.LOCKED, 421),
    (b"220 ok\r\n", b"331 Password required\r\n", b"421 Too many login failures\r\n",
     AuthOutcome.LOCKED, 421),
    (b"220 ok\r\n", b"530 User account locked\r\n", None, AuthOutcome.LOCKED, 530),
    (b"220 ok\r\n", b"230 No password needed\r\n", None, AuthOutcome.SUCCESS, 230),
    (b"220 ok\r\n", b"331 pw\r\n", b"500 OOPS: cannot change directory\r\n", AuthOutcome.ERROR, 500),
    (b"220-Welcome\r\n220-to the\r\n220 DVR\r\n", b"331 pw\r\n", b"530 no\r\n", AuthOutcome.FAILURE, 530),
])
async def test_reply_classification(greeting: bytes, user: bytes, pw: bytes | None,
                                    outcome: AuthOutcome, status: int) -> None:
    log: list[bytes] = []
    async with serve(fake_ftp(greeting, user, pw, log)) as port:
        result = await ftp.try_login(HOST, port, "admin", "s3cret", timeout=2)
    assert result.outcome is outcome and result.status == status, result
    assert "s3cret" not in result.detail
    assert not any(line.split(b" ")[0] in (b"LIST", b"NLST", b"RETR", b"STOR", b"DELE", b"PASV")
                   for line in log)


async def test_multiline_banner_and_quit() -> None:
    log: list[bytes] = []
    greeting = b"220-Hikvision FTP\r\n220-  firmware V5.5.0\r\n220 ready\r\n"
    async with serve(fake_ftp(greeting, b"", None, log)) as port:
        obs = await ftp.probe(HOST, port, timeout=2)
        await asyncio.sleep(0.2)
    assert obs.error is None
    assert obs.fields["ftp.banner"].splitlines() == [
        "220-Hikvision FTP", "220-  firmware V5.5.0", "220 ready"]
    assert log == [b"QUIT\r\n"]


async def test_command_injection_is_stripped() -> None:
    log: list[bytes] = []
    async with serve(fake_ftp(b"220 ok\r\n", b"331 pw\r\n", b"530 no\r\n", log)) as port:
        await ftp.try_login(HOST, port, "admin\r\nDELE x", "p\r\nRMD /", timeout=2)
    assert log[:2] == [b"USER adminDELE x\r\n", b"PASS pRMD /\r\n"]


@pytest.mark.parametrize("greeting,error", [
    (b"SSH-2.0-OpenSSH_8.0\r\n", "malformed"),
    (b"220" + b"x" * 20000, "oversized"),
    (b"220-start\r\n" + b"220-more\r\n" * 300, "oversized"),
    (b"22", "reset"),
])
async def test_hostile_greetings(greeting: bytes, error: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        if error != "reset":
            await asyncio.sleep(1)

    async with serve(handler) as port:
        obs = await ftp.probe(HOST, port, timeout=2)
        result = await ftp.try_login(HOST, port, "a", "b", timeout=2)
    assert obs.error == error, obs
    assert result.outcome is AuthOutcome.ERROR and result.detail == error


async def test_drip_respects_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for b in b"220 very slow FTP server greeting line\r\n":
            writer.write(bytes((b,)))
            await writer.drain()
            await asyncio.sleep(0.1)

    async with serve(handler) as port:
        t0 = time.monotonic()
        obs = await ftp.probe(HOST, port, timeout=0.8)
        result = await ftp.try_login(HOST, port, "a", "b", timeout=0.8)
    assert time.monotonic() - t0 < 2.5
    assert obs.error == "timeout" and result.detail == "timeout"
