"""RTSP/1.0 server (RFC 2326) of the emulated cameras: OPTIONS, DESCRIBE (SDP per RFC 4566 with
real H.264 parameter sets), SETUP over interleaved TCP, PLAY streaming real RTP H.264 packets,
GET_PARAMETER, TEARDOWN; Basic/Digest as each vendor asks."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from camaudit.lab.auth import BasicRealm, DigestRealm, Gate
from camaudit.lab.media import FPS, HEIGHT, WIDTH, Clip
from camaudit.lab.wire import REASONS, BadRequest, http_date, read_message

PUBLIC = "OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER"
IDLE_TIMEOUT = 60.0


@dataclass
class RtspConfig:
    paths: tuple[str, ...]  # accepted stream paths (prefix match, query ignored)
    realm: DigestRealm | BasicRealm | None  # None: anonymous
    server: str | None
    session_name: str
    url_auth: bool = False  # Xiongmai style: rtsp://h/user=admin&password=&channel=1&stream=0.sdp


class RtspSession:
    def __init__(self, cfg: RtspConfig, gate: Gate, clip: Clip | None,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.cfg, self.gate, self.clip = cfg, gate, clip
        self.reader, self.writer = reader, writer
        peer = writer.get_extra_info("peername") or ("", 0)
        self.source = peer[0]
        self.local = (writer.get_extra_info("sockname") or ("", 0))[0]
        self.session_id = f"{secrets.randbelow(10**9):09d}"
        self.setup_done = False
        self.channel = 0
        self.streamer: asyncio.Task[None] | None = None
        self.ssrc = secrets.randbits(32)

    def _path_ok(self, url: str) -> bool:
        path = urllib.parse.urlsplit(url).path or "/"
        if self.cfg.url_auth:
            return "channel=" in url or path.rstrip("/").endswith(".sdp")
        return any(path.rstrip("/").startswith(p.rstrip("/")) for p in self.cfg.paths
                   if p.rstrip("/")) or path in self.cfg.paths

    def _base(self, url: str) -> str:
        return url.split("/trackID=")[0].rstrip("/")

    def sdp(self, url: str) -> str:
        clip = self.clip
        fmtp = "a=fmtp:96 packetization-mode=1"
        if clip is not None:
            fmtp += f";profile-level-id={clip.profile_level_id};sprop-parameter-sets={clip.sprop}"
        sid = int(time.time())
        return "\r\n".join([
            "v=0",
            f"o=- {sid} {sid} IN IP4 {self.local}",
            f"s={self.cfg.session_name}",
            "e=NONE",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=control:*",
            "a=range:npt=0-",
            "m=video 0 RTP/AVP 96",
            "b=AS:512",
            "a=rtpmap:96 H264/90000",
            fmtp,
            f"a=framesize:96 {WIDTH}-{HEIGHT}",
            f"a=framerate:{FPS}",
            "a=recvonly",
            "a=control:trackID=1",
            "",
        ])

    def _auth(self, method: str, uri: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]]]:
        """(status, extra headers): 0 when the request may proceed."""
        if self.cfg.url_auth:
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).path.lstrip("/"),
                                            keep_blank_values=True))
            user = q.get("user")
            if user is None:
                return 401, []
            outcome = self.gate.check("rtsp", self.source, user, q.get("password", ""))
            return (0, []) if outcome == "success" else (401, [])
        realm = self.cfg.realm
        if realm is None:
            return 0, []
        if self.gate.lock.remaining(self.source) > 0 and "authorization" in headers:
            self.gate.recorder.record(self.gate.address, "rtsp", "", "locked")
            return 403, []
        outcome, _ = realm.verify(self.gate, "rtsp", self.source, method, headers.get("authorization"))
        if outcome == "success":
            return 0, []
        if outcome == "locked":
            return 403, []
        return 401, [("WWW-Authenticate", c) for c in realm.challenges(stale=outcome == "stale")]

    async def reply(self, status: int, cseq: str | None, headers: Sequence[tuple[str, str]] = (),
                    body: bytes = b"") -> None:
        lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Unknown')}"]
        if cseq is not None:
            lines.append(f"CSeq: {cseq}")
        if self.cfg.server:
            lines.append(f"Server: {self.cfg.server}")
        lines.append(f"Date: {http_date()}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def _stream(self) -> None:
        """Send the clip as interleaved RTP at its frame rate, looping, until stopped."""
        clip = self.clip
        assert clip is not None
        seq = secrets.randbelow(65536)
        ts = secrets.randbits(32)
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            for frame in clip.frames:
                for i, payload in enumerate(frame):
                    marker = 0x80 if i == len(frame) - 1 else 0
                    rtp = struct.pack("!BBHII", 0x80, marker | 96, seq & 0xFFFF, ts & 0xFFFFFFFF,
                                      self.ssrc) + payload
                    self.writer.write(struct.pack("!cBH", b"$", self.channel, len(rtp)) + rtp)
                    seq += 1
                await self.writer.drain()
                ts += 90000 // FPS
                n += 1
                await asyncio.sleep(max(0.0, start + n / FPS - loop.time()))

    async def run(self) -> None:
        try:
            while True:
                msg = await asyncio.wait_for(self._next_message(), IDLE_TIMEOUT)
                if msg is None:
                    return
                start, headers, _ = msg
                parts = start.split()
                if len(parts) != 3 or not parts[2].startswith("RTSP/"):
                    await self.reply(400, headers.get("cseq"))
                    return
                await self.handle(parts[0].upper(), parts[1], headers)
        except (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, BadRequest,
                ValueError):
            return
        finally:
            if self.streamer:
                self.streamer.cancel()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _next_message(self) -> tuple[str, dict[str, str], bytes] | None:
        """Next RTSP request, skipping interleaved RTCP frames a client sends back."""
        while True:
            first = await self.reader.read(1)
            if not first:
                return None
            if first == b"$":
                hdr = await self.reader.readexactly(3)
                await self.reader.readexactly(struct.unpack("!H", hdr[1:])[0])
                continue
            rest = await read_message(self.reader)
            if rest is None:
                return None
            start, headers, body = rest
            return first.decode("latin-1") + start, headers, body

    async def handle(self, method: str, uri: str, headers: dict[str, str]) -> None:
        cseq = headers.get("cseq")
        if method == "OPTIONS":
            await self.reply(200, cseq, [("Public", PUBLIC)])
            return
        if method not in ("DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
                          "SET_PARAMETER"):
            await self.reply(405 if method.isalpha() else 400, cseq, [("Allow", PUBLIC)])
            return
        status, extra = self._auth(method, uri, headers)
        if status:
            await self.reply(status, cseq, extra)
            return
        if method == "DESCRIBE":
            if not self._path_ok(uri):
                await self.reply(404, cseq)
                return
            body = self.sdp(uri).encode()
            await self.reply(200, cseq, [("Content-Type", "application/sdp"),
                                         ("Content-Base", self._base(uri) + "/")], body)
        elif method == "SETUP":
            transport = headers.get("transport", "")
            if "TCP" not in transport.upper() and "interleaved" not in transport:
                await self.reply(461, cseq)
                return
            if "interleaved=" in transport:
                with contextlib.suppress(ValueError):
                    self.channel = int(transport.split("interleaved=")[1].split("-")[0].split(";")[0])
            self.setup_done = True
            await self.reply(200, cseq, [
                ("Transport", f"RTP/AVP/TCP;unicast;interleaved={self.channel}-{self.channel + 1};"
                              f"ssrc={self.ssrc:08X};mode=\"play\""),
                ("Session", f"{self.session_id};timeout=60")])
        elif method == "PLAY":
            if not self.setup_done:
                await self.reply(455, cseq)
                return
            await self.reply(200, cseq, [("Session", self.session_id), ("Range", "npt=0.000-"),
                                         ("RTP-Info", f"url={self._base(uri)}/trackID=1;seq=0;rtptime=0")])
            if self.clip is not None and self.streamer is None:
                self.streamer = asyncio.create_task(self._stream())
        elif method == "PAUSE":
            if self.streamer:
                self.streamer.cancel()
                self.streamer = None
            await self.reply(200, cseq, [("Session", self.session_id)])
        elif method == "TEARDOWN":
            if self.streamer:
                self.streamer.cancel()
                self.streamer = None
            self.setup_done = False
            await self.reply(200, cseq, [("Session", self.session_id)])
        else:  # GET_PARAMETER / SET_PARAMETER keep-alives
            await self.reply(200, cseq, [("Session", self.session_id)])
