"""A short real H.264 clip (made by ffmpeg at lab start) cut into RTP packets (RFC 6184:
single NAL unit and FU-A packets), plus the SDP ``sprop-parameter-sets`` that go with it."""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RTP_MTU = 1400
FPS = 10
WIDTH, HEIGHT = 320, 240


@dataclass
class Clip:
    sps: bytes
    pps: bytes
    frames: list[list[bytes]]  # per frame: RTP payloads (no RTP header); last one gets marker

    @property
    def sprop(self) -> str:
        return (base64.b64encode(self.sps).decode() + "," + base64.b64encode(self.pps).decode())

    @property
    def profile_level_id(self) -> str:
        return self.sps[1:4].hex().upper()


def make_clip(path: Path) -> Path:
    """Encode 2 s of ffmpeg's test pattern as Annex-B baseline H.264 (one slice per frame,
    an IDR every second)."""
    if not path.exists():
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is needed to make the lab's H.264 clip (apt-get install ffmpeg)")
        subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}", "-t", "2", "-c:v", "libx264",
             "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-x264-params",
             f"keyint={FPS}:scenecut=0:slices=1", "-bsf:v", "h264_mp4toannexb", "-f", "h264",
             "-y", str(path)],
            check=True, timeout=60, stdin=subprocess.DEVNULL)
    return path


def make_snapshot(path: Path) -> bytes:
    """One JPEG frame of ffmpeg's test pattern: what a camera's snapshot URL answers."""
    if not path.exists():
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is needed to make the lab's snapshot (apt-get install ffmpeg)")
        subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", f"testsrc=size={WIDTH}x{HEIGHT}:rate=1", "-frames:v", "1", "-q:v", "5",
             "-y", str(path)],
            check=True, timeout=60, stdin=subprocess.DEVNULL)
    return path.read_bytes()


def split_nals(data: bytes) -> list[bytes]:
    """Annex-B byte stream -> NAL units (start codes and trailing zero bytes removed)."""
    parts = data.split(b"\x00\x00\x01")
    return [p.rstrip(b"\x00") for p in parts[1:] if p.rstrip(b"\x00")]


def packetize(nal: bytes) -> list[bytes]:
    """RFC 6184 single NAL unit packet, or FU-A fragments when larger than the MTU."""
    if len(nal) <= RTP_MTU:
        return [nal]
    hdr, body = nal[0], nal[1:]
    indicator = (hdr & 0xE0) | 28
    out = []
    for off in range(0, len(body), RTP_MTU - 2):
        chunk = body[off:off + RTP_MTU - 2]
        start = 0x80 if off == 0 else 0
        end = 0x40 if off + RTP_MTU - 2 >= len(body) else 0
        out.append(bytes([indicator, start | end | (hdr & 0x1F)]) + chunk)
    return out


def load_clip(path: Path) -> Clip:
    sps = pps = b""
    frames: list[list[bytes]] = []
    pending: list[bytes] = []
    for nal in split_nals(path.read_bytes()):
        t = nal[0] & 0x1F
        if t == 7:
            sps = sps or nal
        elif t == 8:
            pps = pps or nal
        if t in (1, 5):
            frames.append(pending + packetize(nal))
            pending = []
        elif t in (7, 8):
            pending.extend(packetize(nal))
    if not (sps and pps and frames):
        raise RuntimeError(f"{path}: no SPS/PPS/slices in the clip")
    return Clip(sps, pps, frames)
