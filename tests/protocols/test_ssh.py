"""SSH client: asyncssh servers (password, keyboard-interactive, none, lockout) and hostile banners."""

from __future__ import annotations

import asyncio
import functools
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncssh
import pytest
from fakeserver import serve as fake_serve

from camaudit.model import AuthOutcome
from camaudit.protocols import ssh

HOST = "127.43.0.1"
USER, PASSWORD = "admin", "Ssh-Pass-55"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(scope="module")
def host_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


class PasswordServer(asyncssh.SSHServer):
    sessions = 0

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)

    def session_requested(self):  # type: ignore[override]
        PasswordServer.sessions += 1
        return False


class KbdintServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str):
        return "", "", "", [("Password: ", False)]

    def validate_kbdint_response(self, username: str, responses) -> bool:
        return list(responses) == [PASSWORD]


class OpenServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False  # no authentication at all


class LockingServer(PasswordServer):
    def validate_password(self, username: str, password: str) -> bool:
        raise asyncssh.DisconnectError(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                                       "Too many authentication failures")


@contextlib.asynccontextmanager
async def ssh_server(factory, host_key: asyncssh.SSHKey) -> AsyncIterator[int]:
    server = await asyncssh.create_server(factory, HOST, 0, server_host_keys=[host_key])
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


serve = functools.partial(fake_serve, host=HOST)


async def test_password_login(host_key: asyncssh.SSHKey) -> None:
    async with ssh_server(PasswordServer, host_key) as port:
        obs = await ssh.probe(HOST, port, timeout=2)
        good = await ssh.try_login(HOST, port, USER, PASSWORD, timeout=5)
        bad = await ssh.try_login(HOST, port, USER, "wrong", timeout=5)
    assert obs.error is None and obs.fields["ssh.banner"].startswith("SSH-2.0-AsyncSSH_")
    assert obs.fields["ssh.software"].startswith("AsyncSSH_") and obs.fields["ssh.protoversion"] == "2.0"
    assert good.outcome is AuthOutcome.SUCCESS, good
    assert bad.outcome is AuthOutcome.FAILURE, bad
    assert PasswordServer.sessions == 0  # no channel was ever opened


async def test_keyboard_interactive_password(host_key: asyncssh.SSHKey) -> None:
    async with ssh_server(KbdintServer, host_key) as port:
        good = await ssh.try_login(HOST, port, USER, PASSWORD, timeout=5)
        bad = await ssh.try_login(HOST, port, USER, "nope", timeout=5)
    assert good.outcome is AuthOutcome.SUCCESS, good
    assert bad.outcome is AuthOutcome.FAILURE, bad


async def test_no_auth(host_key: asyncssh.SSHKey) -> None:
    async with ssh_server(OpenServer, host_key) as port:
        result = await ssh.try_login(HOST, port, USER, "anything", timeout=5)
    assert result.outcome is AuthOutcome.NO_AUTH, result


async def test_lockout_disconnect(host_key: asyncssh.SSHKey) -> None:
    async with ssh_server(LockingServer, host_key) as port:
        result = await ssh.try_login(HOST, port, USER, "x", timeout=5)
    assert result.outcome is AuthOutcome.LOCKED, result


@pytest.mark.parametrize("greeting,error,fields", [
    (b"Please wait\r\nmotd line\r\nSSH-2.0-dropbear_2019.78\r\n", None,
     {"ssh.software": "dropbear_2019.78", "ssh.pre_banner": "Please wait\nmotd line"}),
    (b"SSH-2.0-OpenSSH_7.4 Raspbian-10\r\n", None,
     {"ssh.software": "OpenSSH_7.4", "ssh.comments": "Raspbian-10"}),
    (b"SSH-" + b"x" * 400 + b"\r\n", "oversized", {}),
    (b"hello\r\n" * 40 + b"SSH-2.0-late\r\n", "oversized", {}),
    (b"SSH-2.0", "reset", {}),
    (b"SSH-garbage\r\n", "malformed", {"ssh.banner": "SSH-garbage"}),
])
async def test_probe_banners(greeting: bytes, error: str | None, fields: dict[str, str]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        if error != "reset":
            await asyncio.sleep(1)

    async with serve(handler) as port:
        obs = await ssh.probe(HOST, port, timeout=2)
    assert obs.error == error, obs
    for key, value in fields.items():
        assert obs.fields[key] == value


async def test_drip_and_garbage_login(host_key: asyncssh.SSHKey) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for b in b"SSH-2.0-slow-device-banner-dripping\r\n":
            writer.write(bytes((b,)))
            await writer.drain()
            await asyncio.sleep(0.1)

    async with serve(drip) as port:
        t0 = time.monotonic()
        obs = await ssh.probe(HOST, port, timeout=0.8)
        result = await ssh.try_login(HOST, port, USER, PASSWORD, timeout=0.8)
        assert time.monotonic() - t0 < 2.5
    assert obs.error == "timeout"
    assert result.outcome is AuthOutcome.ERROR

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-fake\r\n" + bytes(range(256)) * 64)
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(garbage) as port:
        result = await ssh.try_login(HOST, port, USER, PASSWORD, timeout=2)
    assert result.outcome is AuthOutcome.ERROR, result


async def test_refused() -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    obs = await ssh.probe(HOST, port, timeout=1)
    result = await ssh.try_login(HOST, port, USER, PASSWORD, timeout=1)
    assert obs.error == "refused" and result.outcome is AuthOutcome.ERROR
