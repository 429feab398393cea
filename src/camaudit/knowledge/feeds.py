"""Reading the files an operator brings in from outside: NVD CVE JSON 2.0 and CISA's KEV CSV.

Both readers treat their input as hostile.  Sizes are capped before a byte is parsed (a file
over the cap is refused from its ``stat``; a compressed file is capped on the bytes it
decompresses to), the CSV reader caps every line before the ``csv`` module sees it, and any
defect (truncated JSON, bytes that are not UTF-8, valid JSON that is not an NVD 2.0 feed, a CSV
missing columns, a CVE id that is not ``CVE-YYYY-NNNN``) raises :class:`FeedError` with a
one-line message.  Nothing here writes to disk.

NVD feeds are streamed with ijson (its C backend): the yearly files are hundreds of MB and
``json.load`` would hold every CVE at once; ijson holds one CVE at a time.

A CVE is kept when one of its CPE match criteria names a vendor of the fingerprint vocabulary
(``cpe_vendor`` of a vendor making cameras, NVRs or DVRs).  Each vulnerable ``cpeMatch`` becomes an
:class:`~camaudit.knowledge.vulns.AffectedRange`:

* the model comes from the firmware product (``ds-2cd2032-i_firmware`` -> ``DS-2CD2032-I``),
  else from the hardware CPEs of the same AND configuration, else the product is a platform
  firmware (``axis_os``) and every model of the vendor is concerned;
* CPE escapes are undone and NVD's notations kept: ``i\\(u\\)`` is "I or IU", a run of ``x``
  next to digits is a wildcard (Dahua ``ipc-hx3xxx``), ``_`` is a space;
* ``versionStartIncluding`` / ``versionEndExcluding`` / ``versionEndIncluding`` map to
  ``introduced`` / ``fixed`` / ``last_affected``; a version in the CPE itself is one exact
  release; ``-`` or ``*`` with no bound is every version (the entry is then unconfirmed: NVD
  names no fixed release).  ``versionStartExcluding`` and ranges with no upper bound cannot
  be written in the range model and are skipped, counted.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import ijson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camaudit.knowledge.vulns import AffectedRange, Cvss, Text, Vuln

MiB = 1024 * 1024
MAX_FEED_BYTES = 1024 * MiB  # one NVD JSON file, after decompression
MAX_KEV_BYTES = 32 * MiB  # CISA's catalogue is about 1.5 MB
MAX_KEV_LINE = 64 * 1024  # characters in one CSV line
MAX_RANGES = 2000  # affected ranges kept for one CVE
MAX_SUMMARY = 2000  # characters of the NVD description kept
MAX_JSON_DEPTH = 64  # an NVD 2.0 document nests about 10 deep; deeper is hostile (ijson's cost grows
# with the square of the depth: 20,000 levels took 1 GB)
VIDEO_KINDS = frozenset({"camera", "nvr", "dvr"})

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DAHUA_BUILD = re.compile(r"^(\d+\.\d+\.[0-9a-z]+\.\d+\.[a-z])\.(\d{2})(\d{2})(\d{2})$", re.IGNORECASE)
_X_RUN = re.compile(r"x+")
_DIGITS = re.compile(r"\d+")
_HTTPS = re.compile(r"^https://[^\s\"'<>]{4,500}$")

KEV_REQUIRED = ("cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
                "shortDescription", "requiredAction", "dueDate")
KEV_OPTIONAL = ("knownRansomwareCampaignUse", "notes", "cwes")  # added to the CSV over time


class FeedError(ValueError):
    """An input file that cannot be imported; the message is one line naming the file."""


# ------------------------------------------------------------------ models of the input


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class NvdCpeMatch(_In):
    vulnerable: bool
    criteria: str = Field(max_length=1024)
    versionStartIncluding: str | None = Field(None, max_length=128)
    versionStartExcluding: str | None = Field(None, max_length=128)
    versionEndIncluding: str | None = Field(None, max_length=128)
    versionEndExcluding: str | None = Field(None, max_length=128)


class NvdNode(_In):
    operator: Literal["AND", "OR"] = "OR"
    negate: bool = False
    cpeMatch: list[NvdCpeMatch] = Field(default_factory=list)


class NvdConfiguration(_In):
    operator: Literal["AND", "OR"] | None = None
    negate: bool = False
    nodes: list[NvdNode]


class NvdCvssData(_In):
    version: str
    vectorString: str = Field(max_length=200)
    baseScore: float = Field(ge=0.0, le=10.0)


class NvdMetric(_In):
    source: str = ""
    type: str = ""
    cvssData: NvdCvssData


class NvdMetrics(_In):
    cvssMetricV31: list[NvdMetric] = Field(default_factory=list)
    cvssMetricV30: list[NvdMetric] = Field(default_factory=list)


class NvdText(_In):
    lang: str
    value: str


class NvdReference(_In):
    url: str


class NvdCve(_In):
    """The part of an NVD 2.0 ``cve`` object the import reads."""

    id: str = Field(pattern=CVE_ID.pattern)
    published: str = Field(pattern=_TIMESTAMP.pattern)
    lastModified: str = Field(pattern=_TIMESTAMP.pattern)
    vulnStatus: str = ""
    descriptions: list[NvdText] = Field(default_factory=list)
    metrics: NvdMetrics = Field(default_factory=NvdMetrics)
    configurations: list[NvdConfiguration] = Field(default_factory=list)
    references: list[NvdReference] = Field(default_factory=list)
    cisaExploitAdd: str | None = Field(None, pattern=_DATE.pattern)


# ------------------------------------------------------------------ what the import yields


class ImportedVuln(Vuln):
    """A vulns.yaml entry plus what the import knows beyond it: KEV date and provenance."""

    kev_date: str | None = None  # CISA KEV dateAdded (YYYY-MM-DD)
    origin: Literal["nvd", "packaged"] = "nvd"
    last_modified: str | None = None  # NVD lastModified of the record it came from


class KevEntry(_In):
    """One row of the KEV catalogue, the columns the knowledge base keeps."""

    cveID: str = Field(pattern=CVE_ID.pattern)
    vendorProject: str = Field(max_length=200)
    product: str = Field(max_length=300)
    vulnerabilityName: str = Field(max_length=500)
    dateAdded: str = Field(pattern=_DATE.pattern)
    dueDate: str = Field(pattern=_DATE.pattern)
    knownRansomwareCampaignUse: str = Field("", max_length=32)


@dataclass(frozen=True)
class CpeVendor:
    """A vendor of the fingerprint vocabulary as NVD names it."""

    key: str  # vendor key used by vulns.yaml and the check ("hikvision")
    name: str  # canonical spelling ("Hikvision")
    firmware_suffix: bool  # NVD names its firmware '<model>_firmware'


@dataclass
class NvdResult:
    """One NVD file read: the camera CVEs kept and what was left out, counted."""

    name: str
    timestamp: str | None = None
    read: int = 0
    vulns: dict[str, ImportedVuln] = field(default_factory=dict)
    by_vendor: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class KevResult:
    name: str
    entries: dict[str, KevEntry]
    newest: str  # the latest dateAdded: how current the catalogue is


# ------------------------------------------------------------------ bounded input


class _Capped(io.RawIOBase):
    """A binary stream that refuses to yield more than ``cap`` bytes (decompression bombs,
    files growing while read)."""

    def __init__(self, raw: IO[bytes], cap: int, name: str) -> None:
        self._raw, self._cap, self._name, self.count = raw, cap, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), self._cap + 1 - self.count))
        self.count += len(data)
        if self.count > self._cap:
            raise FeedError(f"{self._name}: larger than {_size(self._cap)} once decompressed; refused")
        buffer[: len(data)] = data
        return len(data)


def _size(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def _check_size(path: Path, cap: int) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        raise FeedError(f"{path.name}: cannot read: {exc.strerror}") from None
    if not path.is_file():
        raise FeedError(f"{path.name}: not a regular file")
    if st.st_size > cap:
        raise FeedError(f"{path.name}: {st.st_size} bytes is over the {_size(cap)} cap; refused")
    if st.st_size == 0:
        raise FeedError(f"{path.name}: empty file")


@contextlib.contextmanager
def open_capped(path: Path, cap: int) -> Iterator[IO[bytes]]:
    """The file's bytes (gunzipped or unzipped when it is .gz / .zip), at most ``cap`` of them."""
    _check_size(path, cap)
    with contextlib.ExitStack() as stack:
        try:
            raw: IO[bytes] = stack.enter_context(open(path, "rb"))
            magic = raw.read(4)
            raw.seek(0)
            if magic[:2] == b"\x1f\x8b":
                gz = gzip.GzipFile(fileobj=raw, mode="rb")
                stack.callback(gz.close)
                raw = cast(IO[bytes], gz)
            elif magic == b"PK\x03\x04":
                archive = stack.enter_context(zipfile.ZipFile(raw))
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise FeedError(f"{path.name}: a zip file must hold exactly one file, "
                                    f"it holds {len(members)}")
                raw = stack.enter_context(archive.open(members[0]))
        except (OSError, zipfile.BadZipFile) as exc:
            raise FeedError(f"{path.name}: cannot open: {exc}") from None
        yield io.BufferedReader(_Capped(raw, cap, path.name), buffer_size=256 * 1024)


# ------------------------------------------------------------------ CPE names


@dataclass(frozen=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str
    update: str


def parse_cpe(text: str) -> Cpe | None:
    """A CPE 2.3 formatted string split into its unquoted components; None when it is not one
    (wrong prefix, not 13 components, a dangling backslash, an embedded wildcard)."""
    parts: list[str] = []
    wild: list[bool] = []
    cur: list[str] = []
    has_wild = False
    it = iter(text)
    for ch in it:
        if ch == "\\":
            nxt = next(it, None)
            if nxt is None:
                return None
            cur.append(nxt)
        elif ch == ":":
            parts.append("".join(cur))
            wild.append(has_wild)
            cur, has_wild = [], False
        else:
            if ch in "*?":
                has_wild = True
            cur.append(ch)
    parts.append("".join(cur))
    wild.append(has_wild)
    if len(parts) != 13 or parts[0] != "cpe" or parts[1] != "2.3" or parts[2] not in ("a", "o", "h"):
        return None
    vendor, product, version, update = parts[3:7]
    # '*' alone is ANY; a wildcard inside a vendor, product or version is a pattern we do not read
    for value, w in ((vendor, wild[3]), (product, wild[4]), (version, wild[5])):
        if w and value != "*":
            return None
    if not vendor or vendor == "*" or not product or product == "*":
        return None
    return Cpe(parts[2], vendor.lower(), product.lower(), version, update)


def model_pattern(product: str) -> str:
    """Regular expression over the device's model name for an NVD product name.

    ``ds-2cd2032-i`` -> the model DS-2CD2032-I (not DS-2CD2032-IW); ``i(u)`` -> I or IU;
    ``hx3xxx`` -> a Dahua family; a product whose longest digit run is under 3 digits
    (``sd22``, ``sd6al``) is a series name and matches every model that starts with it."""
    out = []
    i = 0
    while i < len(product):
        ch = product[i]
        if ch == "(":
            end = product.find(")", i)
            if 0 < end - i <= 17:
                out.append(f"(?:{re.escape(product[i + 1:end])})?")
                i = end + 1
                continue
        if ch == "x":
            run = _X_RUN.match(product, i)
            assert run is not None
            n = run.end() - i
            before = product[i - 1] if i else ""
            after = product[run.end()] if run.end() < len(product) else ""
            if n >= 2 or before.isdigit() or after.isdigit():
                out.append(f"[0-9a-z]{{{n}}}" if n >= 2 else "[0-9a-z]{1,3}")
                i = run.end()
                continue
        out.append(r"[\s_]" if ch == "_" else re.escape(ch))
        i += 1
    body = "".join(out)
    longest = max((len(m) for m in _DIGITS.findall(product)), default=0)
    series = longest < 3 or product.endswith("x")
    return r"(?:^|[\s_/-])" + body + ("" if series else r"(?![0-9a-z])")


def version_text(text: str) -> str:
    """An NVD version as the device would write it: CPE '_' is a space, and Dahua's
    '2.800.0000000.29.r.210630' carries its build date (2021-06-30)."""
    text = text.strip().replace("_", " ")
    m = _DAHUA_BUILD.match(text)
    if m:
        return f"{m.group(1).upper()}, Build Date: 20{m.group(2)}-{m.group(3)}-{m.group(4)}"
    return text


# ------------------------------------------------------------------ NVD JSON 2.0


def vocabulary(db: Any) -> dict[str, CpeVendor]:
    """NVD vendor name -> vendor, for the fingerprint vendors that make video devices."""
    from camaudit.knowledge import vendor_key

    out: dict[str, CpeVendor] = {}
    for v in db.vendors.values():
        if v.cpe_vendor and VIDEO_KINDS & set(v.makes):
            key = vendor_key(v.name)
            if key:
                out[v.cpe_vendor.lower()] = CpeVendor(key, v.name, v.cpe_firmware_suffix)
    return out


# A compressed file that is damaged or has trailing garbage (gzip.BadGzipFile is an OSError), a
# zip member whose CRC is wrong, a read error: the file is refused, never a traceback.
_DAMAGED = (EOFError, zlib.error, OSError, zipfile.BadZipFile)


def _check_depth(path: Path, max_bytes: int) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before any item is built: one pass of
    ijson's basic events, which carry no prefix and cost the same at any depth."""
    with open_capped(path, max_bytes) as stream:
        depth = 0
        try:
            for event, _ in ijson.basic_parse(stream, use_float=True):
                if event in ("start_map", "start_array"):
                    depth += 1
                    if depth > MAX_JSON_DEPTH:
                        raise FeedError(f"{path.name}: JSON nested deeper than {MAX_JSON_DEPTH} levels; refused")
                elif event in ("end_map", "end_array"):
                    depth -= 1
        except ijson.JSONError as exc:
            raise FeedError(f"{path.name}: not valid JSON: {_first_line(exc)}") from None
        except (*_DAMAGED, UnicodeDecodeError) as exc:
            raise FeedError(f"{path.name}: damaged or truncated: {_first_line(exc)}") from None


def read_nvd(path: Path, vendors: dict[str, CpeVendor], *, max_bytes: int = MAX_FEED_BYTES) -> NvdResult:
    """Stream one NVD CVE JSON 2.0 file (plain, .gz or .zip) and keep the camera CVEs."""
    result = NvdResult(name=path.name)
    _check_depth(path, max_bytes)  # first: even the header pass costs the square of the depth
    header = _nvd_header(path, max_bytes)
    result.timestamp = header.get("timestamp")
    with open_capped(path, max_bytes) as stream:
        try:
            for index, item in enumerate(ijson.items(stream, "vulnerabilities.item", use_float=True)):
                result.read += 1
                cve = _validate_item(path.name, index, item)
                _keep(cve, vendors, result)
        except ijson.JSONError as exc:
            raise FeedError(f"{path.name}: not valid JSON: {_first_line(exc)}") from None
        except (*_DAMAGED, UnicodeDecodeError) as exc:
            raise FeedError(f"{path.name}: damaged or truncated: {_first_line(exc)}") from None
    return result


def _first_line(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (str(text).strip().splitlines() or [type(exc).__name__])[0][:200]


def _nvd_header(path: Path, max_bytes: int) -> dict[str, str]:
    """The top-level keys before ``vulnerabilities``; refuses what is not an NVD 2.0 feed.
    NVD writes format/version/timestamp first (and they sort first too)."""
    header: dict[str, str] = {}
    seen: list[str] = []
    with open_capped(path, max_bytes) as stream:
        try:
            events = ijson.parse(stream, use_float=True)
            prefix, event, value = next(events)
            if event != "start_map":
                raise FeedError(f"{path.name}: not an NVD CVE JSON 2.0 feed (the top level is "
                                f"not an object)")
            for prefix, event, value in events:
                if prefix == "" and event == "map_key":
                    if value == "vulnerabilities":
                        break
                    seen.append(value)
                elif prefix in ("format", "version", "timestamp") and event == "string":
                    header[prefix] = value
            else:
                raise FeedError(f"{path.name}: not an NVD CVE JSON 2.0 feed: no 'vulnerabilities' "
                                f"list{_looks_like(seen)}")
        except StopIteration:
            raise FeedError(f"{path.name}: not valid JSON: empty document") from None
        except ijson.JSONError as exc:
            raise FeedError(f"{path.name}: not valid JSON: {_first_line(exc)}") from None
        except (*_DAMAGED, UnicodeDecodeError) as exc:
            raise FeedError(f"{path.name}: damaged or truncated: {_first_line(exc)}") from None
    if header.get("format") != "NVD_CVE" or header.get("version") != "2.0":
        raise FeedError(f"{path.name}: not an NVD CVE JSON 2.0 feed: format "
                        f"{header.get('format')!r}, version {header.get('version')!r} "
                        f"(expected 'NVD_CVE', '2.0'){_looks_like(seen)}")
    if "timestamp" in header and not _TIMESTAMP.match(header["timestamp"]):
        raise FeedError(f"{path.name}: feed timestamp {header['timestamp'][:40]!r} is not a date")
    return header


def _looks_like(keys: list[str]) -> str:
    if "CVE_Items" in keys or "CVE_data_version" in keys:
        return "; it looks like the retired NVD 1.1 feed, download the 2.0 files"
    if "catalogVersion" in keys:
        return "; it looks like CISA's KEV catalogue, give it with --kev"
    return ""


def _validate_item(name: str, index: int, item: Any) -> NvdCve:
    if not isinstance(item, dict) or not isinstance(item.get("cve"), dict):
        raise FeedError(f"{name}: vulnerabilities[{index}] is not an NVD 2.0 entry "
                        f"({{\"cve\": {{...}}}})")
    raw = item["cve"]
    cve_id = raw.get("id")
    if not isinstance(cve_id, str) or not CVE_ID.match(cve_id):
        shown = repr(cve_id)[:40]
        raise FeedError(f"{name}: vulnerabilities[{index}]: id {shown} is not a CVE id "
                        f"(CVE-YYYY-NNNN)")
    try:
        return NvdCve.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(entry)"
        raise FeedError(f"{name}: {cve_id}: field {where}: {err['msg']}") from None


def _cvss(cve: NvdCve) -> Cvss | None:
    """NVD's own (Primary) v3.1 score, else any v3.1, else v3.0; None when there is none."""
    for metrics in (cve.metrics.cvssMetricV31, cve.metrics.cvssMetricV30):
        for m in sorted(metrics, key=lambda m: m.type != "Primary"):
            try:
                return Cvss(score=m.cvssData.baseScore, vector=m.cvssData.vectorString)
            except ValidationError:
                continue
    return None


def _keep(cve: NvdCve, vendors: dict[str, CpeVendor], result: NvdResult) -> None:
    if cve.vulnStatus == "Rejected":
        result.skipped["rejected"] += 1
        return
    ranges: dict[str, list[tuple[AffectedRange, str]]] = collections.defaultdict(list)
    for config in cve.configurations:
        if config.negate:
            result.skipped["negated configuration"] += 1
            continue
        _config_ranges(config, vendors, ranges, result.skipped)
    if not ranges:
        return
    cvss = _cvss(cve)
    if cvss is None:
        result.skipped["camera CVE without a CVSS v3 score"] += 1
        return
    vendor = max(ranges, key=lambda k: len(ranges[k]))
    for other, dropped in ranges.items():
        if other != vendor:
            result.skipped[f"ranges of a second vendor ({other})"] += len(dropped)
    result.vulns[cve.id] = _vuln(cve, vendors, vendor, ranges[vendor], cvss)
    result.by_vendor[vendor] += 1


def _config_ranges(config: NvdConfiguration, vendors: dict[str, CpeVendor],
                   ranges: dict[str, list[tuple[AffectedRange, str]]],
                   skipped: collections.Counter[str]) -> None:
    """Turn one configuration's vulnerable firmware CPEs into ranges, per vendor key."""
    parsed: list[tuple[NvdCpeMatch, Cpe]] = []
    for node in config.nodes:
        if node.negate:
            skipped["negated node"] += 1
            continue
        for m in node.cpeMatch:
            cpe = parse_cpe(m.criteria)
            if cpe is None:
                skipped["unreadable CPE string"] += 1
                continue
            parsed.append((m, cpe))
    hardware: dict[str, list[str]] = collections.defaultdict(list)
    for m, cpe in parsed:
        if cpe.part == "h" and cpe.vendor in vendors:
            hardware[cpe.vendor].append(cpe.product)
    firmware = [(m, c) for m, c in parsed if m.vulnerable and c.part == "o" and c.vendor in vendors]
    if not firmware:  # older entries mark the hardware itself vulnerable, with no firmware
        firmware = [(m, c) for m, c in parsed if m.vulnerable and c.part == "h" and c.vendor in vendors]
    for m, cpe in firmware:
        v = vendors[cpe.vendor]
        models = _models(cpe, v, hardware.get(cpe.vendor, []))
        bounds = _bounds(m, cpe)
        if isinstance(bounds, str):
            skipped[bounds] += 1
            continue
        if not _comparable(v.key, bounds):
            skipped["version NVD gives that no firmware string compares with"] += 1
            continue
        try:
            rng = AffectedRange(models=tuple(model_pattern(p) for p in models), **bounds)
        except ValidationError:
            skipped["range the model cannot hold"] += 1
            continue
        ranges[v.key].append((rng, ", ".join(m.upper().replace("_", " ") for m in models)))


def _models(cpe: Cpe, vendor: CpeVendor, hardware: list[str]) -> list[str]:
    """Model names (NVD product spelling) a firmware CPE concerns; [] = every model."""
    if cpe.part == "h":
        return [cpe.product]
    if vendor.firmware_suffix and cpe.product.endswith("_firmware") and len(cpe.product) > 9:
        return [cpe.product[: -len("_firmware")]]
    if hardware:
        return sorted(set(hardware))
    if cpe.product == "firmware" or cpe.product.endswith("_os"):
        return []  # a platform firmware (axis_os): every model running it
    return [cpe.product]


def _bounds(m: NvdCpeMatch, cpe: Cpe) -> dict[str, Any] | str:
    """AffectedRange keyword arguments, or the reason (a skip counter) it cannot be written."""
    if m.versionStartExcluding:
        return "range starting after a version (versionStartExcluding)"
    if cpe.version not in ("*", "-", ""):
        exact = cpe.version + (f" {cpe.update}" if cpe.update not in ("*", "-", "") else "")
        text = version_text(exact)
        return {"introduced": text, "last_affected": text}
    if not (m.versionEndExcluding or m.versionEndIncluding):
        if m.versionStartIncluding:
            return "range with no upper bound"
        return {"all_versions": True}
    out: dict[str, Any] = {}
    if m.versionStartIncluding:
        out["introduced"] = version_text(m.versionStartIncluding)
    if m.versionEndExcluding:
        out["fixed"] = version_text(m.versionEndExcluding)
    else:
        out["last_affected"] = version_text(m.versionEndIncluding or "")
    return out


def _comparable(vendor: str, bounds: dict[str, Any]) -> bool:
    """Every bound yields a version tuple (else the range could never match)."""
    from camaudit.identify.firmware import normalise_firmware

    return all(normalise_firmware(vendor, bounds[k])[0]
               for k in ("introduced", "fixed", "last_affected") if bounds.get(k))


def _vuln(cve: NvdCve, vendors: dict[str, CpeVendor], vendor: str,
          ranges: list[tuple[AffectedRange, str]], cvss: Cvss) -> ImportedVuln:
    name = next(v.name for v in vendors.values() if v.key == vendor)
    # one range per distinct bound, holding every model with that bound ([] = every model)
    grouped: dict[tuple[Any, ...], list[str] | None] = {}
    labels: list[str] = []
    for rng, label in ranges:
        key = (rng.introduced, rng.fixed, rng.last_affected, rng.all_versions)
        models = grouped.setdefault(key, [])
        if models is not None:
            if rng.models:
                models.extend(m for m in rng.models if m not in models)
            else:
                grouped[key] = None
        if rng.models and label not in labels:
            labels.append(label)
    affected = tuple(
        AffectedRange(models=tuple(models or ()), introduced=introduced, fixed=fixed,
                      last_affected=last, all_versions=every)
        for (introduced, fixed, last, every), models in list(grouped.items())[:MAX_RANGES])
    shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    if any(models is None for models in grouped.values()):
        shown = f"{shown}, every model" if shown else "every model"
    product = f"{name} {shown}"
    english = next((d.value for d in cve.descriptions if d.lang == "en"), "").strip()
    english = english[:MAX_SUMMARY] if len(english) >= 10 else f"{cve.id}: NVD gives no description."
    refs = list(dict.fromkeys([f"https://nvd.nist.gov/vuln/detail/{cve.id}",
                               *(r.url for r in cve.references if _HTTPS.match(r.url))]))[:10]
    unbounded = any(r.all_versions for r in affected)
    note = (f"Imported from NVD (lastModified {cve.lastModified[:10]}). "
            + ("NVD names no fixed firmware for some models: every firmware of those models is "
               "reported; check the vendor's advisory." if unbounded else ""))
    return ImportedVuln(
        id=cve.id, vendor=vendor, product=product[:300],
        summary=Text(en=english, vi=f"[Mô tả gốc tiếng Anh từ NVD] {english}"),
        cvss=cvss, kev=cve.cisaExploitAdd is not None, kev_date=cve.cisaExploitAdd,
        confirmed=not unbounded, note=note.strip(), affected=affected,
        references=tuple(refs), origin="nvd", last_modified=cve.lastModified)


# ------------------------------------------------------------------ CISA KEV CSV


def _bounded_lines(stream: IO[str], name: str) -> Iterator[str]:
    """Lines of at most MAX_KEV_LINE characters; a longer one is refused unread."""
    number = 0
    while True:
        line = stream.readline(MAX_KEV_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_KEV_LINE:
            raise FeedError(f"{name}: line {number} is longer than {MAX_KEV_LINE} characters; refused")
        yield line


def read_kev(path: Path, *, max_bytes: int = MAX_KEV_BYTES) -> KevResult:
    """Read CISA's known_exploited_vulnerabilities.csv (plain or .gz)."""
    entries: dict[str, KevEntry] = {}
    with open_capped(path, max_bytes) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        try:
            rows = csv.reader(_bounded_lines(text, path.name), strict=True)
            header = next(rows, None)
            if header is None:
                raise FeedError(f"{path.name}: empty file")
            _kev_header(path.name, header)
            index = {col: i for i, col in enumerate(header)}
            for number, row in enumerate(rows, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                entry = _kev_row(path.name, number, header, index, row)
                entries[entry.cveID] = entry
        except UnicodeDecodeError as exc:
            raise FeedError(f"{path.name}: not UTF-8 text ({exc.reason}, byte "
                            f"{exc.object[exc.start:exc.start + 1]!r})") from None
        except csv.Error as exc:
            raise FeedError(f"{path.name}: not a readable CSV file: {_first_line(exc)}") from None
        except _DAMAGED as exc:
            raise FeedError(f"{path.name}: damaged or truncated: {_first_line(exc)}") from None
    if not entries:
        raise FeedError(f"{path.name}: no KEV entries (only a header)")
    return KevResult(path.name, entries, max(e.dateAdded for e in entries.values()))


def _kev_header(name: str, header: list[str]) -> None:
    header[:] = [h.strip() for h in header]
    missing = [c for c in KEV_REQUIRED if c not in header]
    if missing:
        raise FeedError(f"{name}: not CISA's KEV CSV: missing column(s) {', '.join(missing)} "
                        f"(has: {', '.join(h[:30] for h in header[:12])})")


def _kev_row(name: str, number: int, header: list[str], index: dict[str, int],
             row: list[str]) -> KevEntry:
    if len(row) != len(header):
        raise FeedError(f"{name}: record {number}: {len(row)} fields, the header has {len(header)}")
    cve_id = row[index["cveID"]].strip()
    if not CVE_ID.match(cve_id):
        raise FeedError(f"{name}: record {number}: cveID {cve_id[:40]!r} is not a CVE id (CVE-YYYY-NNNN)")
    values = {c: row[index[c]].strip() for c in (*KEV_REQUIRED, *KEV_OPTIONAL) if c in index}
    try:
        return KevEntry.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise FeedError(f"{name}: record {number} ({cve_id}): column {where}: {err['msg']}") from None
