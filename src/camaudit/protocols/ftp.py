"""FTP (RFC 959) banner grab and one USER/PASS attempt.

A small control-channel client rather than a full FTP library: we only ever read the greeting,
send USER, PASS and QUIT, and never open a data connection (no LIST, STOR or DELE).  Replies are
parsed per RFC 959 section 4.2 (multi-line ``nnn-`` ... ``nnn `` form), each line bounded, the
whole exchange under one deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from camaudit.model import MAX_RAW, AuthOutcome, AuthResult, Observation
from camaudit.protocols._net import MAX_LINE, MAX_READ, Conn, ProbeError, classify, connect, text

MAX_REPLY_LINES = 200
CODE_RE = re.compile(rb"^(\d{3})([ -])")
LOCKED_RE = re.compile(r"lock|too many|blocked|banned|temporarily", re.I)


async def read_reply(conn: Conn) -> tuple[int, str]:
    """One (possibly multi-line) reply: (code, text)."""
    lines: list[bytes] = []
    size = 0
    first = await conn.read_until(b"\n", MAX_LINE)
    m = CODE_RE.match(first)
    if not m:
        raise ProbeError("malformed", f"not an FTP reply: {first[:40]!r}")
    code = m.group(1)
    lines.append(first)
    if m.group(2) == b"-":
        while True:
            if len(lines) > MAX_REPLY_LINES or size > MAX_READ:
                raise ProbeError("oversized", "multi-line reply too long")
            line = await conn.read_until(b"\n", MAX_LINE)
            size += len(line)
            lines.append(line)
            if line.startswith(code + b" "):
                break
    return int(code), "\n".join(text(ln).strip() for ln in lines)


class _Lines(Conn):
    """Conn whose read_until keeps any bytes read past the separator for the next call."""

    def __init__(self, conn: Conn) -> None:
        super().__init__(conn.reader, conn.writer)
        self._buf = bytearray()

    async def read_until(self, sep: bytes, limit: int = MAX_READ) -> bytes:
        while sep not in self._buf:
            if len(self._buf) > limit:
                raise ProbeError("oversized", f"no {sep!r} within {limit} bytes")
            chunk = await self.reader.read(4096)
            if not chunk:
                raise ProbeError("reset", "connection closed mid-reply" if self._buf
                                 else "connection closed before any reply")
            self._buf += chunk
        end = self._buf.index(sep) + len(sep)
        line = bytes(self._buf[:end])
        del self._buf[:end]
        return line


async def _quit(conn: Conn) -> None:
    """Polite QUIT; the answer does not matter."""
    with contextlib.suppress(Exception):
        await conn.send(b"QUIT\r\n")
        await asyncio.wait_for(read_reply(conn), 0.5)


async def probe(address: str, port: int, *, timeout: float) -> Observation:
    """Read the greeting (220 or 421), then QUIT."""
    obs = Observation(address=address, port=port, protocol="ftp")
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = _Lines(await connect(address, port, timeout=timeout))
            code, reply = await read_reply(conn)
            obs.fields["ftp.banner"] = reply[:2048]
            obs.fields["ftp.code"] = str(code)
            obs.raw = reply[:MAX_RAW]
            if code == 220:
                await _quit(conn)
            elif code != 421:
                obs.error = "malformed"
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        obs.error = classify(exc)
    finally:
        if conn is not None:
            await conn.close()
    return obs


def _outcome(code: int, reply: str) -> AuthResult | None:
    """Final outcome for a reply to USER or PASS; None when the server wants more (331)."""
    first = reply.split("\n", 1)[0][:200]
    if code == 230:
        return AuthResult(AuthOutcome.SUCCESS, first, code)
    if code == 331:
        return None
    if code == 421 or LOCKED_RE.search(reply):
        return AuthResult(AuthOutcome.LOCKED, first, code)
    if code in (530, 430):
        return AuthResult(AuthOutcome.FAILURE, first, code)
    return AuthResult(AuthOutcome.ERROR, f"unexpected reply: {first}", code)


async def _login(conn: Conn, username: str, password: str) -> AuthResult:
    code, reply = await read_reply(conn)
    if code == 421:
        return AuthResult(AuthOutcome.LOCKED, reply.split("\n", 1)[0][:200], code)
    if code != 220:
        return AuthResult(AuthOutcome.ERROR, f"greeting {code}", code)
    await conn.send(f"USER {_clean(username)}\r\n".encode("utf-8"))
    result = _outcome(*await read_reply(conn))
    if result is None:
        await conn.send(f"PASS {_clean(password)}\r\n".encode("utf-8"))
        result = _outcome(*await read_reply(conn))
        if result is None:
            result = AuthResult(AuthOutcome.ERROR, "331 after PASS", 331)
    if result.outcome is not AuthOutcome.LOCKED:
        await _quit(conn)
    return result


def _clean(arg: str) -> str:
    """A USER/PASS argument cannot carry CR or LF (it would inject a second command)."""
    return arg.replace("\r", "").replace("\n", "")


async def try_login(address: str, port: int, username: str, password: str, *,
                    timeout: float) -> AuthResult:
    """USER then PASS: 230 SUCCESS, 530 FAILURE, 421 or lockout text LOCKED.  Then QUIT."""
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = _Lines(await connect(address, port, timeout=timeout))
            return await _login(conn, username, password)
    except Exception as exc:  # noqa: BLE001 - a device must never crash the scan
        return AuthResult(AuthOutcome.ERROR, classify(exc))
    finally:
        if conn is not None:
            await conn.close()
