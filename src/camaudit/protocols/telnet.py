"""Telnet (RFC 854) banner grab and one login attempt, as a minimal client does it.

Option negotiation (RFC 855): every DO is answered WONT and every WILL is answered DONT, once per
option, so a device that keeps asking cannot make us loop.  Sub-negotiations are skipped.  The
device's text is read until it shows a prompt (login, password or shell), under one deadline for
the whole exchange and at most ``MAX_READ`` bytes.  After a successful login nothing is sent: the
connection is closed at the shell prompt.
"""

from __future__ import annotations

import asyncio
import re

from camaudit.model import MAX_RAW, AuthOutcome, AuthResult, Observation
from camaudit.protocols._net import MAX_READ, Conn, ProbeError, classify, connect, text

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240

LOGIN_RE = re.compile(r"(?:login|username|user ?name|user)\s*:\s*$", re.I)
PASSWORD_RE = re.compile(r"password\s*:\s*$", re.I)
SHELL_RE = re.compile(r"(?:[#$>%]|BusyBox v[\w.]+.*built-in shell.*)\s*$", re.I | re.S)
FAILED_RE = re.compile(r"incorrect|invalid|fail|denied|wrong|bad (?:user|pass)", re.I)
LOCKED_RE = re.compile(r"lock|too many|blocked|temporarily|try again later", re.I)
BUSYBOX_RE = re.compile(r"BusyBox v\d", re.I)


class _Session:
    """A Telnet connection: strips IAC sequences, refuses options, keeps the text seen."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.text = ""  # decoded data, IAC removed, since the last mark()
        self.total = 0  # bytes read in all
        self._answered: set[tuple[int, int]] = set()
        self._pending = b""  # an IAC sequence cut across two reads

    def _strip(self, data: bytes) -> tuple[bytes, bytes]:
        """(plain data, replies to send) for one chunk."""
        data = self._pending + data
        self._pending = b""
        out = bytearray()
        replies = bytearray()
        i = 0
        while i < len(data):
            b = data[i]
            if b != IAC:
                out.append(b)
                i += 1
                continue
            if i + 1 >= len(data):
                self._pending = data[i:]
                break
            cmd = data[i + 1]
            if cmd == IAC:
                out.append(IAC)
                i += 2
            elif cmd in (DO, DONT, WILL, WONT):
                if i + 2 >= len(data):
                    self._pending = data[i:]
                    break
                opt = data[i + 2]
                reply = {DO: WONT, WILL: DONT}.get(cmd)
                if reply is not None and (cmd, opt) not in self._answered:
                    self._answered.add((cmd, opt))
                    replies += bytes((IAC, reply, opt))
                i += 3
            elif cmd == SB:
                end = data.find(bytes((IAC, SE)), i + 2)
                if end < 0:
                    self._pending = data[i:] if len(data) - i < 1024 else b""
                    break
                i = end + 2
            else:
                i += 2  # NOP, GA, AYT...: two-byte commands
        return bytes(out), bytes(replies)

    def mark(self) -> None:
        self.text = ""

    async def read_until(self, *patterns: re.Pattern[str]) -> re.Pattern[str] | None:
        """Read until the text seen so far ends with one of ``patterns``; None on EOF."""
        while True:
            tail = self.text.rstrip("\x00")[-512:]
            for pattern in patterns:
                if pattern.search(tail):
                    return pattern
            if self.total > MAX_READ:
                raise ProbeError("oversized", f"no prompt within {MAX_READ} bytes")
            chunk = await self.conn.read_some(4096)
            if not chunk:
                return None
            self.total += len(chunk)
            plain, replies = self._strip(chunk)
            if replies:
                await self.conn.send(replies)
            self.text += text(plain).replace("\r", "")

    async def send_line(self, line: str) -> None:
        # NVT end of line is CR LF (RFC 854); IAC in the data is doubled.
        data = line.encode("utf-8", errors="replace").replace(b"\xff", b"\xff\xff")
        await self.conn.send(data + b"\r\n")


def _last_line(s: str) -> str:
    lines = [ln for ln in s.split("\n") if ln.strip()]
    return lines[-1].strip()[:200] if lines else ""


async def probe(address: str, port: int, *, timeout: float) -> Observation:
    """Read the banner up to the first prompt (login, password or shell)."""
    obs = Observation(address=address, port=port, protocol="telnet")
    conn: Conn | None = None
    session: _Session | None = None
    found: re.Pattern[str] | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            session = _Session(conn)
            found = await session.read_until(LOGIN_RE, PASSWORD_RE, SHELL_RE)
            if found is None and not session.text:
                obs.error = "reset"
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        kind = classify(exc)
        # A banner with no prompt before the deadline is still a banner.
        if not (kind == "timeout" and session is not None and session.text.strip()):
            obs.error = kind
    finally:
        if conn is not None:
            await conn.close()
    if session is not None and session.text:
        seen = session.text.strip("\x00")
        banner = seen.strip()
        if found is not None:
            prompt = _last_line(seen)
            obs.fields["telnet.prompt"] = prompt
            banner = banner[: len(banner) - len(prompt)].rstrip() if banner.endswith(prompt) else banner
        obs.fields["telnet.banner"] = banner[:2048]
        obs.raw = seen[:MAX_RAW]
    return obs


async def _login(session: _Session, username: str, password: str) -> AuthResult:
    first = await session.read_until(LOGIN_RE, PASSWORD_RE, SHELL_RE)
    if first is None:
        if not session.total:
            return AuthResult(AuthOutcome.LOCKED, "connection closed before any prompt")
        return AuthResult(AuthOutcome.ERROR, "connection closed before a prompt")
    if LOCKED_RE.search(session.text):
        return AuthResult(AuthOutcome.LOCKED, "lockout text before login")
    if first is SHELL_RE:
        return AuthResult(AuthOutcome.NO_AUTH, "shell prompt without login")
    if first is LOGIN_RE:
        session.mark()
        await session.send_line(username)
        after_user = await session.read_until(PASSWORD_RE, LOGIN_RE, SHELL_RE)
        if after_user is None:
            return _closed(session)
        if after_user is LOGIN_RE:
            return _rejected(session)
        if after_user is SHELL_RE and not FAILED_RE.search(session.text):
            return AuthResult(AuthOutcome.SUCCESS, "shell after username, no password asked")
    session.mark()
    await session.send_line(password)
    after_pass = await session.read_until(LOGIN_RE, PASSWORD_RE, SHELL_RE)
    if after_pass is None:
        return _closed(session)
    if LOCKED_RE.search(session.text):
        return AuthResult(AuthOutcome.LOCKED, _said(session, LOCKED_RE))
    if after_pass is SHELL_RE and not FAILED_RE.search(session.text):
        return AuthResult(AuthOutcome.SUCCESS, "shell prompt" + (
            " (BusyBox)" if BUSYBOX_RE.search(session.text) else ""))
    return _rejected(session)


def _said(session: _Session, pattern: re.Pattern[str]) -> str:
    """The first line of the device's answer that matches ``pattern`` (for the detail)."""
    for line in session.text.split("\n"):
        if pattern.search(line):
            return line.strip()[:200]
    return ""


def _rejected(session: _Session) -> AuthResult:
    if LOCKED_RE.search(session.text):
        return AuthResult(AuthOutcome.LOCKED, _said(session, LOCKED_RE))
    return AuthResult(AuthOutcome.FAILURE, _said(session, FAILED_RE) or "re-prompted")


def _closed(session: _Session) -> AuthResult:
    if LOCKED_RE.search(session.text):
        return AuthResult(AuthOutcome.LOCKED, _said(session, LOCKED_RE))
    if FAILED_RE.search(session.text):
        return AuthResult(AuthOutcome.FAILURE, _said(session, FAILED_RE))
    return AuthResult(AuthOutcome.ERROR, "connection closed during login")


async def try_login(address: str, port: int, username: str, password: str, *,
                    timeout: float) -> AuthResult:
    """One login attempt: user at the login prompt, password at the password prompt."""
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            return await _login(_Session(conn), username, password)
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        return AuthResult(AuthOutcome.ERROR, classify(exc))
    finally:
        if conn is not None:
            await conn.close()
