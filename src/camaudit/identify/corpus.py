"""The banner corpus: real device answers as published, with the identity they should yield.

One JSON object per line in ``tests/identify/corpus/<brand>.jsonl`` (format and rules in that
directory's README.md)::

    {"id": "hikvision-003", "fields": {"http.server": "DNVRS-Webs"},
     "expect": {"vendor": "Hikvision", "model": null, "kind": "nvr"},
     "source": "https://...", "note": "what the source is"}

``load(path)`` reads a file or every ``*.jsonl`` under a directory and refuses a malformed line
with its file, line number and reason; ``observations(example)`` turns the fields into the
Observations a scan would have made (one per protocol, the protocol being the key's prefix);
``judge(example, identity)`` says which of vendor, model and kind came out right.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camaudit.model import Identity, Observation

KINDS = ("camera", "nvr", "dvr", "other")
_KEY = re.compile(r"^(?:mac|[a-z][a-z0-9]*\.[a-z][a-z0-9_]*)$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
_PORTS = {"http": 80, "https": 443, "tls": 443, "rtsp": 554, "ftp": 21, "telnet": 23, "ssh": 22,
          "snmp": 161, "onvif": 80, "wsd": 3702, "ssdp": 1900, "upnp": 1900, "hiksdk": 8000,
          "dvrip": 37777, "xmeye": 34567, "mac": 0, "neigh": 0}
_UDP = {"snmp", "wsd", "ssdp", "upnp"}
MAX_LINE = 65536
ADDRESS = "192.0.2.1"  # documentation address: corpus observations are never sent anywhere


class CorpusError(ValueError):
    """A corpus line that cannot be used, with where and why."""


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    fields: dict[str, str]
    vendor: str | None
    model: str | None
    kind: str
    source: str
    note: str
    file: str = ""
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def brand(self) -> str:
        return Path(self.file).stem if self.file else (self.vendor or "unknown")

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _fail(where: str, why: str) -> CorpusError:
    return CorpusError(f"{where}: {why}")


def parse_line(text: str, where: str) -> Example:
    if len(text) > MAX_LINE:
        raise _fail(where, f"line longer than {MAX_LINE} characters")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(where, f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise _fail(where, "expected a JSON object")
    unknown = set(obj) - {"id", "fields", "expect", "source", "note"}
    if unknown:
        raise _fail(where, "unknown keys: " + ", ".join(sorted(unknown)))
    ident = obj.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise _fail(where, f"id {ident!r}: lower-case letters, digits, . _ - (e.g. hikvision-003)")
    where = f"{where} ({ident})"
    fields = obj.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise _fail(where, "fields: a non-empty object of observation fields")
    for k, v in fields.items():
        if not isinstance(k, str) or not _KEY.match(k):
            raise _fail(where, f"field {k!r}: use namespace.key (http.server, snmp.sysdescr) or mac")
        if not isinstance(v, str) or not v:
            raise _fail(where, f"field {k!r}: value must be a non-empty string")
    expect = obj.get("expect")
    if not isinstance(expect, dict) or set(expect) != {"vendor", "model", "kind"}:
        raise _fail(where, "expect: an object with exactly vendor, model, kind")
    for k in ("vendor", "model"):
        if expect[k] is not None and (not isinstance(expect[k], str) or not expect[k].strip()):
            raise _fail(where, f"expect.{k}: a non-empty string or null")
    if expect["kind"] not in KINDS:
        raise _fail(where, f"expect.kind {expect['kind']!r}: one of {', '.join(KINDS)}")
    source = obj.get("source")
    if not isinstance(source, str) or not re.match(r"^https?://\S+$", source):
        raise _fail(where, "source: the http(s) address of the public source")
    note = obj.get("note")
    if not isinstance(note, str) or not note.strip():
        raise _fail(where, "note: say what the source is (manual page, advisory, published scan)")
    return Example(ident, dict(fields), expect["vendor"], expect["model"], expect["kind"],
                   source, note)


def load(path: Path | str) -> list[Example]:
    """Every example of a .jsonl file, or of every .jsonl file under a directory."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise CorpusError(f"{path}: no .jsonl files")
    elif path.is_file():
        files = [path]
    else:
        raise CorpusError(f"{path}: no such file or directory")
    out: list[Example] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            lines = f.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"{f}: unreadable: {exc}") from None
        for n, text in enumerate(lines, 1):
            if not text.strip() or text.lstrip().startswith("//"):
                continue
            ex = parse_line(text, f"{f.name}:{n}")
            if ex.id in seen:
                raise CorpusError(f"{f.name}:{n}: id {ex.id!r} already used at {seen[ex.id]}")
            seen[ex.id] = f"{f.name}:{n}"
            out.append(Example(ex.id, ex.fields, ex.vendor, ex.model, ex.kind, ex.source, ex.note,
                               f.name, n))
    return out


def observations(example: Example) -> list[Observation]:
    """One Observation per protocol, as a scan would have recorded the fields."""
    by_proto: dict[str, dict[str, str]] = {}
    for key, value in example.fields.items():
        proto = key.split(".", 1)[0]
        by_proto.setdefault(proto, {})[key] = value
    return [Observation(ADDRESS, _PORTS.get(proto, 0), proto, "udp" if proto in _UDP else "tcp",
                        fields=fields) for proto, fields in by_proto.items()]


def norm_model(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


@dataclass(frozen=True, slots=True)
class Verdict:
    vendor: bool
    model: bool | None  # None: the example carries no model
    kind: bool


def judge(example: Example, identity: Identity, canonical: Any = None) -> Verdict:
    """Right or wrong on each of vendor, model (when the example has one) and kind."""
    canon = canonical or (lambda x: x)
    want_vendor = canon(example.vendor) if example.vendor else None
    vendor_ok = (canon(identity.vendor) if identity.vendor else None) == want_vendor
    model_ok = None if example.model is None else norm_model(identity.model) == norm_model(example.model)
    return Verdict(vendor_ok, model_ok, identity.kind.value == example.kind)


def brands(examples: Iterable[Example]) -> set[str]:
    return {e.vendor for e in examples if e.vendor}
