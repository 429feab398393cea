"""What an SDP (RFC 8866) offers: media, codecs and, where the device says it, the resolution.

The resolution comes from attributes some cameras add (``a=framesize:96 1920-1080``,
``a=x-dimensions:1920,1080``, ``a=cliprect:0,0,1080,1920``) or, for H.264, from the sequence
parameter set the SDP carries (``sprop-parameter-sets``, RFC 6184), read per ITU-T H.264
section 7.3.2.1.1.  Everything here is hostile input: bounded, and a malformed value is
simply not reported.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

MAX_SDP = 16 * 1024
MAX_MEDIA = 4
_RTPMAP = re.compile(r"^a=rtpmap:(\d+)\s+([A-Za-z0-9._-]{1,32})(?:/(\d{1,6}))?", re.IGNORECASE)
_FRAMESIZE = re.compile(r"^a=framesize:\d+\s+(\d{2,5})-(\d{2,5})\s*$", re.IGNORECASE)
_XDIM = re.compile(r"^a=x-dimensions:\s*(\d{2,5}),\s*(\d{2,5})\s*$", re.IGNORECASE)
_CLIPRECT = re.compile(r"^a=cliprect:\s*\d+,\s*\d+,\s*(\d{2,5}),\s*(\d{2,5})\s*$", re.IGNORECASE)
_SPROP = re.compile(r"sprop-parameter-sets=([A-Za-z0-9+/=]{4,512})")


def summary(sdp: str) -> list[dict[str, Any]]:
    """One entry per media section (at most ``MAX_MEDIA``): media kind, transport, codec,
    clock rate and, for video when given, width and height."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in sdp[:MAX_SDP].splitlines():
        line = line.strip()
        if line.startswith("m="):
            if len(out) >= MAX_MEDIA:
                break
            parts = line[2:].split()
            current = {"media": parts[0][:16] if parts else "?",
                       "transport": parts[2][:24] if len(parts) > 2 else ""}
            current["_pts"] = parts[3:8]
            out.append(current)
            continue
        if current is None:
            continue
        m = _RTPMAP.match(line)
        if m and ("codec" not in current) and (m.group(1) in current["_pts"] or not current["_pts"]):
            current["codec"] = m.group(2).upper()
            if m.group(3):
                current["clock_rate"] = int(m.group(3))
            continue
        for rx in (_FRAMESIZE, _XDIM):
            m = rx.match(line)
            if m:
                current.setdefault("width", int(m.group(1)))
                current.setdefault("height", int(m.group(2)))
        m = _CLIPRECT.match(line)
        if m:
            current.setdefault("width", int(m.group(2)))
            current.setdefault("height", int(m.group(1)))
        m = _SPROP.search(line) if line.startswith("a=fmtp:") else None
        if m and "width" not in current:
            size = h264_size(m.group(1).split(",")[0])
            if size:
                current["width"], current["height"] = size
    for entry in out:
        entry.pop("_pts", None)
        if entry["media"] == "video" and "codec" not in entry:
            entry["codec"] = "?"
    return out


def describe_text(media: list[dict[str, Any]]) -> str:
    """'video H264 1920x1080, audio PCMA' for a report line."""
    parts = []
    for m in media:
        text = f"{m['media']} {m.get('codec', '?')}"
        if m.get("width") and m.get("height"):
            text += f" {m['width']}x{m['height']}"
        parts.append(text)
    return ", ".join(parts)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        if self.pos >= len(self.data) * 8:
            raise ValueError("SPS cut short")
        b = (self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return b

    def bits(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
_PROFILES = {66, 77, 88} | _HIGH_PROFILES  # profile_idc values of H.264 Annex A


def h264_size(b64: str) -> tuple[int, int] | None:
    """Width and height coded in an H.264 SPS (base64, as in sprop-parameter-sets)."""
    try:
        nal = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)[:256]
    except (binascii.Error, ValueError):
        return None
    if len(nal) < 4 or nal[0] & 0x1F != 7:
        return None
    rbsp = nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention bytes
    try:
        r = _Bits(rbsp)
        profile = r.bits(8)
        if profile not in _PROFILES:
            return None
        r.bits(16)  # constraint flags, level
        r.ue()  # seq_parameter_set_id
        chroma = 1
        if profile in _HIGH_PROFILES:
            chroma = r.ue()
            if chroma == 3:
                r.bit()
            r.ue()
            r.ue()
            r.bit()
            if r.bit():  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma != 3 else 12):
                    if r.bit():
                        last = nxt = 8
                        for _ in range(16 if i < 6 else 64):
                            if nxt:
                                nxt = (last + r.se() + 256) % 256
                            last = nxt or last
        r.ue()  # log2_max_frame_num_minus4
        poc = r.ue()
        if poc == 0:
            r.ue()
        elif poc == 1:
            r.bit()
            r.se()
            r.se()
            for _ in range(min(r.ue(), 255)):
                r.se()
        r.ue()  # max_num_ref_frames
        r.bit()
        w_mbs = r.ue() + 1
        h_units = r.ue() + 1
        frame_mbs_only = r.bit()
        if not frame_mbs_only:
            r.bit()
        r.bit()
        crop = (0, 0, 0, 0)
        if r.bit():
            crop = (r.ue(), r.ue(), r.ue(), r.ue())
    except ValueError:
        return None
    sub_w, sub_h = (2, 2) if chroma == 1 else (2, 1) if chroma == 2 else (1, 1)
    cx = sub_w if chroma else 1
    cy = (sub_h if chroma else 1) * (2 - frame_mbs_only)
    width = w_mbs * 16 - cx * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * h_units * 16 - cy * (crop[2] + crop[3])
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        return None
    return width, height
