"""SSH identification string (RFC 4253 section 4.2) and one password login with asyncssh.

``probe`` reads what the server sends first: optional text lines, then ``SSH-protoversion-
softwareversion [comments]``; it sends nothing.  ``try_login`` authenticates once with the
password (method "password", or "keyboard-interactive" when the server asks for the password
that way), with no keys, no agent, no config file and no host key check, then closes: no session
channel is opened and no command runs.  Legacy algorithms are enabled because old camera
firmware (dropbear) often offers nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence

import asyncssh
from asyncssh import encryption, kex, mac, public_key

from camaudit.model import MAX_RAW, AuthOutcome, AuthResult, Observation
from camaudit.protocols._net import Conn, ProbeError, classify, connect, text
from camaudit.scope import admit

MAX_ID_LINE = 255  # RFC 4253: the identification line is at most 255 bytes with CR LF
MAX_PRE_LINES = 32  # lines a server may send before its identification, that we accept
ID_RE = re.compile(r"^SSH-([\w.]+)-(\S+)(?: (.*))?$")
LOCKED_RE = re.compile(r"too many|lock|blocked|banned|maxstartups", re.I)


async def _read_id(conn: Conn) -> tuple[list[str], str]:
    """(lines before the identification, the identification line)."""
    before: list[str] = []
    while True:
        line = await _line(conn)
        decoded = text(line).rstrip("\r\n")
        if decoded.startswith("SSH-"):
            return before, decoded
        before.append(decoded)
        if len(before) >= MAX_PRE_LINES:
            raise ProbeError("oversized", f"no SSH- line within {MAX_PRE_LINES} lines")


async def _line(conn: Conn) -> bytes:
    """One line of at most MAX_ID_LINE bytes, read byte-wise so nothing past it is consumed."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        if len(buf) > MAX_ID_LINE:
            raise ProbeError("oversized", f"line longer than {MAX_ID_LINE} bytes")
        chunk = await conn.reader.read(1)
        if not chunk:
            raise ProbeError("reset", "connection closed before the identification string")
        buf += chunk
    return bytes(buf)


async def probe(address: str, port: int, *, timeout: float) -> Observation:
    """Read the server's identification string; send nothing."""
    obs = Observation(address=address, port=port, protocol="ssh")
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            before, ident = await _read_id(conn)
        obs.fields["ssh.banner"] = ident
        obs.raw = "\n".join([*before, ident])[:MAX_RAW]
        m = ID_RE.match(ident)
        if m:
            obs.fields["ssh.protoversion"] = m.group(1)
            obs.fields["ssh.software"] = m.group(2)
            if m.group(3):
                obs.fields["ssh.comments"] = m.group(3)
        else:
            obs.error = "malformed"
        if before:
            obs.fields["ssh.pre_banner"] = "\n".join(before)[:1024]
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        obs.error = classify(exc)
    finally:
        if conn is not None:
            await conn.close()
    return obs


class _Client(asyncssh.SSHClient):
    """Offers the password once, by "password" or a one-prompt keyboard-interactive challenge."""

    def __init__(self, password: str) -> None:
        self._password = password
        self.offered = False

    def password_auth_requested(self) -> str | None:
        if self.offered:
            return None  # one attempt per connection, no retry
        self.offered = True
        return self._password

    def kbdint_auth_requested(self) -> str | None:
        return "" if not self.offered else None

    def kbdint_challenge_received(self, name: str, instructions: str, lang: str,
                                  prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
        if not prompts:
            return []
        if len(prompts) == 1 and not prompts[0][1] and not self.offered:
            self.offered = True
            return [self._password]
        return None  # a challenge we cannot answer with a password: give up


def _algorithms() -> dict[str, list[str]]:
    """Every algorithm asyncssh implements, legacy ones included (GSS key exchange excluded)."""
    def names(algs: list[bytes]) -> list[str]:
        return [a.decode("ascii") for a in algs if not a.startswith(b"gss-")]
    return {
        "kex_algs": names(kex.get_kex_algs()),
        "encryption_algs": names(encryption.get_encryption_algs()),
        "mac_algs": names(mac.get_mac_algs()),
        # no compression: "zlib" would have the server's packets inflated before we can bound
        # them (RFC 4253 6.2 makes "none" mandatory, so every server accepts it)
        "compression_algs": ["none"],
        "server_host_key_algs": names(public_key.get_public_key_algs()
                                      + public_key.get_certificate_algs()),
    }


async def try_login(address: str, port: int, username: str, password: str, *,
                    timeout: float) -> AuthResult:
    """One password authentication; close right after it, no channel opened."""
    client = _Client(password)
    conn: asyncssh.SSHClientConnection | None = None
    try:
        address = admit(address)  # asyncssh opens its own socket: the scope guard first
        async with asyncio.timeout(timeout):
            conn, _ = await asyncssh.create_connection(
                lambda: client, address, port,
                username=username, known_hosts=None, agent_path=None, client_keys=None,
                config=[], gss_host=None, password_auth=True, kbdint_auth=True,
                public_key_auth=False, host_based_auth=False,
                preferred_auth=("password", "keyboard-interactive"),
                connect_timeout=timeout, login_timeout=timeout, keepalive_interval=0,
                **_algorithms(),
            )
        if not client.offered:
            return AuthResult(AuthOutcome.NO_AUTH, "server accepted the connection without asking a password")
        return AuthResult(AuthOutcome.SUCCESS, "password accepted")
    except asyncssh.PermissionDenied as exc:
        if LOCKED_RE.search(exc.reason or ""):
            return AuthResult(AuthOutcome.LOCKED, exc.reason[:200])
        if not client.offered:
            return AuthResult(AuthOutcome.ERROR, "server offers no password authentication")
        return AuthResult(AuthOutcome.FAILURE, "permission denied")
    except asyncssh.DisconnectError as exc:
        reason = (exc.reason or "")[:200]
        if LOCKED_RE.search(reason):
            return AuthResult(AuthOutcome.LOCKED, reason)
        return AuthResult(AuthOutcome.ERROR, f"disconnect: {reason}" if reason else "disconnect")
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        return AuthResult(AuthOutcome.ERROR, classify(exc))
    finally:
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 1.0)
