"""A small RTSP/1.0 client (RFC 2326): OPTIONS and DESCRIBE, Basic and Digest auth.

Only what an audit needs: no SETUP/PLAY, no media.  Replies are parsed defensively: the status
line must be RTSP/1.x, at most 64 headers in at most 16 KiB, a body only as long as
Content-Length says and at most 64 KiB.  An interleaved RTP frame ('$'), binary or any other
garbage where a reply should be is reported as ``malformed``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from camaudit.model import AuthOutcome, AuthResult, Observation
from camaudit.protocols import digest
from camaudit.protocols._net import MAX_READ, Conn, ProbeError, classify, connect, text

MAX_HEADERS = 64
USER_AGENT = "camaudit"
_STATUS = re.compile(r"RTSP/1\.[01] (\d{3})(?: (.*))?\Z")


@dataclass(slots=True)
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw: str = ""

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), default)

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


async def read_reply(conn: Conn) -> Reply:
    """Read one RTSP reply; ProbeError on anything that is not one."""
    try:
        first = await conn.reader.readexactly(1)
    except asyncio.IncompleteReadError as exc:
        raise ProbeError("reset", "closed before any answer") from exc
    if first == b"$":
        raise ProbeError("malformed", "interleaved RTP frame instead of a reply")
    if first != b"R":
        raise ProbeError("malformed", f"not an RTSP reply (first byte {first!r})")
    try:
        head = first + await conn.reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise ProbeError("oversized", "header block too long") from exc
    except asyncio.IncompleteReadError as exc:
        raise ProbeError("reset", "closed mid-header") from exc
    lines = head[:-4].decode("latin-1").split("\r\n")
    m = _STATUS.match(lines[0])
    if not m:
        raise ProbeError("malformed", "bad status line")
    if len(lines) - 1 > MAX_HEADERS:
        raise ProbeError("oversized", f"more than {MAX_HEADERS} headers")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\x00"):
            raise ProbeError("malformed", "bad header line")
        headers.append((name.strip(), value.strip()))
    reply = Reply(int(m.group(1)), (m.group(2) or "").strip(), headers, raw=text(head))
    length = reply.get("Content-Length", "0")
    if not length.isdigit():
        raise ProbeError("malformed", "bad Content-Length")
    if int(length) > MAX_READ:
        raise ProbeError("oversized", f"Content-Length {length}")
    try:
        reply.body = await conn.reader.readexactly(int(length))
    except asyncio.IncompleteReadError as exc:
        raise ProbeError("reset", "closed mid-body") from exc
    return reply


class Session:
    """One RTSP connection: numbered requests, one reply each."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.cseq = 0

    async def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Reply:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        await self.conn.send(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        return await read_reply(self.conn)


def url_for(address: str, port: int, path: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"rtsp://{host}:{port}{path if path.startswith('/') else '/' + path}"


def _is_sdp(reply: Reply) -> bool:
    return reply.body.lstrip().startswith(b"v=0") or "application/sdp" in reply.get(
        "Content-Type").lower()


def classify_describe(reply: Reply, sent: bool) -> AuthResult:
    """Outcome of a DESCRIBE, ``sent`` telling whether a credential went with it."""
    s = reply.status
    if s == 200:
        if not _is_sdp(reply) or not reply.body:
            return AuthResult(AuthOutcome.ERROR, "200 without SDP", s)
        if sent:
            return AuthResult(AuthOutcome.SUCCESS, "stream described", s)
        return AuthResult(AuthOutcome.NO_AUTH, "stream described without a credential", s)
    if s == 401:
        return AuthResult(AuthOutcome.FAILURE, "rejected" if sent else "credential required", s)
    if s == 423 or (s == 403 and sent):
        return AuthResult(AuthOutcome.LOCKED, f"status {s} after a credential", s)
    if s == 404:
        return AuthResult(AuthOutcome.ERROR, "no such route", s)
    return AuthResult(AuthOutcome.ERROR, f"status {s}", s)


async def describe(address: str, port: int, path: str, *, username: str | None = None,
                   password: str | None = None, timeout: float) -> tuple[AuthResult, str]:
    """DESCRIBE ``path``; answers a Basic/Digest challenge once when a credential is given.

    Returns the outcome and the SDP text when the answer was 200."""
    url = url_for(address, port, path)
    conn: Conn | None = None
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            session = Session(conn)
            accept = {"Accept": "application/sdp"}
            reply = await session.request("DESCRIBE", url, accept)
            sent = False
            if reply.status == 401 and username is not None:
                chosen = digest.pick(digest.parse_challenges(reply.get_all("WWW-Authenticate")))
                if chosen is None:
                    return AuthResult(AuthOutcome.ERROR, "unsupported auth challenge", 401), ""
                if reply.get("Connection").lower() == "close":
                    await conn.close()
                    conn = await connect(address, port, timeout=timeout)
                    session = Session(conn)
                auth = digest.authorization(chosen, username, password or "", "DESCRIBE", url)
                reply = await session.request("DESCRIBE", url, {**accept, "Authorization": auth})
                sent = True
            result = classify_describe(reply, sent)
            sdp = text(reply.body) if reply.status == 200 else ""
            return result, sdp
    except Exception as exc:  # noqa: BLE001 - device misbehaviour is an ERROR outcome
        kind = "timeout" if isinstance(exc, TimeoutError) else classify(exc)
        detail = exc.detail if isinstance(exc, ProbeError) and exc.detail else ""
        return AuthResult(AuthOutcome.ERROR, f"{kind}: {detail}" if detail else kind), ""
    finally:
        if conn is not None:
            await conn.close()


async def try_login(address: str, port: int, username: str, password: str, *, path: str,
                    timeout: float) -> AuthResult:
    """One credential on one route (DESCRIBE)."""
    result, _ = await describe(address, port, path, username=username, password=password,
                               timeout=timeout)
    return result


def _observe(address: str, port: int, path: str, reply: Reply) -> Observation:
    values = reply.get_all("WWW-Authenticate")
    challenges = digest.parse_challenges(values)
    chosen = digest.pick(challenges) or (challenges[0] if challenges else None)
    f = {"rtsp.status": str(reply.status), "rtsp.path": path,
         "rtsp.auth_scheme": chosen.scheme if chosen else "none"}
    optional = {"rtsp.server": reply.get("Server"), "rtsp.public": reply.get("Public"),
                "rtsp.www_authenticate": " | ".join(values),
                "rtsp.realm": chosen.realm if chosen else ""}
    f.update({k: v[:512] for k, v in optional.items() if v})
    return Observation(address, port, "rtsp", fields=f, raw=reply.raw)


async def probe(address: str, port: int, *, timeout: float) -> list[Observation]:
    """OPTIONS then DESCRIBE rtsp://address:port/ on one connection, without credentials."""
    out: list[Observation] = []
    conn: Conn | None = None
    url = url_for(address, port, "/")
    try:
        async with asyncio.timeout(timeout):
            conn = await connect(address, port, timeout=timeout)
            session = Session(conn)
            out.append(_observe(address, port, "/", await session.request("OPTIONS", url)))
            reply = await session.request("DESCRIBE", url, {"Accept": "application/sdp"})
            out.append(_observe(address, port, "/", reply))
    except Exception as exc:  # noqa: BLE001
        kind = "timeout" if isinstance(exc, TimeoutError) else classify(exc)
        out.append(Observation(address, port, "rtsp", fields={"rtsp.path": "/"},
                               raw=str(exc)[:200], error=kind))
    finally:
        if conn is not None:
            await conn.close()
    return out
