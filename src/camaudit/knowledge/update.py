"""Offline knowledge updates: an overlay of NVD and CISA KEV imports over the packaged data.

The packaged knowledge is read-only.  Imports land in ``$CAMAUDIT_HOME/knowledge/`` (else the
user data directory's ``knowledge/``)::

    manifest.json       the commit point: data file names and SHA-256, sources, counts
    nvd-<sha12>.json    camera CVEs converted from NVD feeds (ImportedVuln entries)
    kev-<sha12>.json    CISA KEV catalogue entries
    .lock               held while an update writes

An update reads and validates every input file in memory first; only then does it write the
content-addressed data files (new names: the old ones stay untouched), then replaces
``manifest.json`` with ``os.replace`` (atomic), then removes the files the manifest no longer
names.  A refused input changes nothing; a crash at any point leaves the old manifest with its
files, or the new one with its files.  Loading checks every data file against the SHA-256 the
manifest gives.

Merging (``apply_overlay``): the packaged vulns.yaml entries are curated and win over an NVD
import of the same CVE; NVD imports add the CVEs vulns.yaml lacks; KEV sets ``kev`` and the
date it was added on every CVE it lists, packaged or imported.  The knowledge version becomes
``<packaged version>+<overlay digest>`` so every scan and report names the overlay it used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camaudit.knowledge import DATA_DIR, KnowledgeBase, KnowledgeError, data_version
from camaudit.knowledge.feeds import (
    MAX_FEED_BYTES,
    MAX_KEV_BYTES,
    ImportedVuln,
    KevEntry,
    KevResult,
    NvdResult,
    read_kev,
    read_nvd,
    vocabulary,
)
from camaudit.knowledge.vulns import Vuln, VulnsFile

MANIFEST = "manifest.json"
STALE_DAYS = 30
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_DATA_BYTES = 512 * 1024 * 1024
_DATA_NAME = re.compile(r"^(nvd|kev)-[0-9a-f]{12}\.json$")


class UpdateError(RuntimeError):
    """The update could not run (another one holds the lock, the directory is not writable)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DataFile(_Strict):
    name: str = Field(pattern=_DATA_NAME.pattern)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    count: int = Field(ge=0)


class Source(_Strict):
    """One input file as imported."""

    kind: Literal["nvd", "kev"]
    name: str = Field(max_length=255)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    imported: str  # ISO 8601, UTC
    as_of: str | None = None  # NVD feed timestamp, or the newest KEV dateAdded
    read: int = Field(ge=0)  # CVEs or KEV rows in the file
    kept: int = Field(ge=0)  # camera CVEs kept, or KEV entries
    skipped: dict[str, int] = Field(default_factory=dict)


class Manifest(_Strict):
    schema_: Literal["camaudit-kb-overlay/1"] = Field(alias="schema")
    updated: str
    nvd: DataFile
    kev: DataFile
    sources: list[Source]


class NvdData(_Strict):
    schema_: Literal["camaudit-nvd-cves/1"] = Field(alias="schema")
    vulns: list[ImportedVuln]


class KevData(_Strict):
    schema_: Literal["camaudit-kev/1"] = Field(alias="schema")
    entries: list[KevEntry]


@dataclasses.dataclass(frozen=True)
class Overlay:
    """The imported knowledge, validated."""

    directory: Path
    manifest: Manifest
    digest: str  # SHA-256 of manifest.json
    vulns: dict[str, ImportedVuln]
    kev: dict[str, KevEntry]


@dataclasses.dataclass
class ImportSummary:
    """What an update read, kept and left out, and the knowledge version before and after."""

    directory: Path
    nvd: list[NvdResult]
    kev: KevResult | None
    version_before: str
    version_after: str
    cves_total: int  # camera CVEs in the overlay after the update
    kev_total: int

    @property
    def skipped(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.nvd:
            total.update(r.skipped)
        return total


def knowledge_home(home: str | Path | None = None) -> Path:
    """Where the overlay lives: ``home`` or ``$CAMAUDIT_HOME`` or the user data dir, + knowledge/."""
    base = home or os.environ.get("CAMAUDIT_HOME") or user_data_dir("camaudit", appauthor=False)
    return Path(base) / "knowledge"


# ------------------------------------------------------------------ reading the overlay


def _damaged(directory: Path, problem: str) -> KnowledgeError:
    return KnowledgeError(f"knowledge overlay {directory}: {problem}; import the feeds again with "
                          f"`camaudit kb update --replace ...` or drop it with `camaudit kb reset`")


def _read_capped(path: Path, cap: int, directory: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        raise _damaged(directory, f"cannot read {path.name}: {exc.strerror}") from None
    if len(data) > cap:
        raise _damaged(directory, f"{path.name} is larger than {cap} bytes")
    return data


def _validated(model: type[BaseModel], data: bytes, name: str, directory: Path) -> Any:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise _damaged(directory, f"{name}: {where}: {err['msg']}") from None


def read_overlay(home: str | Path | None = None) -> Overlay | None:
    """The overlay, validated against its manifest; None when nothing was imported.
    Raises ``KnowledgeError`` when it is damaged."""
    directory = knowledge_home(home)
    path = directory / MANIFEST
    if not path.exists():
        return None
    raw = _read_capped(path, MAX_MANIFEST_BYTES, directory)
    manifest: Manifest = _validated(Manifest, raw, MANIFEST, directory)
    loaded: dict[str, bytes] = {}
    for kind in ("nvd", "kev"):
        entry: DataFile = getattr(manifest, kind)
        data = _read_capped(directory / entry.name, MAX_DATA_BYTES, directory)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise _damaged(directory, f"{entry.name} does not match the SHA-256 in {MANIFEST}")
        loaded[kind] = data
    nvd: NvdData = _validated(NvdData, loaded["nvd"], manifest.nvd.name, directory)
    kev: KevData = _validated(KevData, loaded["kev"], manifest.kev.name, directory)
    return Overlay(directory, manifest, hashlib.sha256(raw).hexdigest(),
                   {v.id: v for v in nvd.vulns}, {e.cveID: e for e in kev.entries})


def _with_kev(v: Vuln, kev: dict[str, KevEntry]) -> Vuln:
    entry = kev.get(v.id)
    if entry is None:
        return v
    if isinstance(v, ImportedVuln):
        return v.model_copy(update={"kev": True, "kev_date": entry.dateAdded})
    return ImportedVuln(**{**v.model_dump(), "kev": True, "kev_date": entry.dateAdded,
                           "origin": "packaged"})


def overlay_version(base: str, overlay: Overlay | None) -> str:
    return base if overlay is None else f"{base}+{overlay.digest[:12]}"


def apply_overlay(kb: KnowledgeBase, overlay: Overlay | None) -> KnowledgeBase:
    """``kb`` with the overlay merged in (packaged entries win; KEV flags every CVE it lists)."""
    if overlay is None:
        return kb
    packaged = {v.id for v in kb.vulns.vulns}
    merged = [_with_kev(v, overlay.kev) for v in kb.vulns.vulns]
    merged += [_with_kev(v, overlay.kev) for cve, v in sorted(overlay.vulns.items())
               if cve not in packaged]
    vulns = VulnsFile(version=overlay_version(kb.vulns.version, overlay), vulns=tuple(merged))
    return dataclasses.replace(kb, version=overlay_version(kb.version, overlay), vulns=vulns)


def with_overlay(kb: KnowledgeBase, home: str | Path | None = None) -> KnowledgeBase:
    """``kb`` merged with the overlay found in ``home`` (what ``load_kb()`` returns)."""
    return apply_overlay(kb, read_overlay(home))


# ------------------------------------------------------------------ writing it


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UpdateError(f"cannot write the knowledge overlay in {directory}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateError(f"another knowledge update is running ({directory / '.lock'})") from None
        yield
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _data_file(directory: Path, kind: str, model: BaseModel, count: int) -> DataFile:
    data = model.model_dump_json(by_alias=True, exclude_defaults=False).encode()
    sha = hashlib.sha256(data).hexdigest()
    entry = DataFile(name=f"{kind}-{sha[:12]}.json", sha256=sha, count=count)
    if not (directory / entry.name).exists():
        _write_atomic(directory / entry.name, data)
    return entry


def _file_sha256(path: Path) -> tuple[str, int]:
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def import_feeds(cve_feeds: Sequence[str | Path] = (), kev: str | Path | None = None, *,
                 home: str | Path | None = None, replace: bool = False,
                 max_feed_bytes: int = MAX_FEED_BYTES, max_kev_bytes: int = MAX_KEV_BYTES,
                 fingerprints: Any = None, now: dt.datetime | None = None) -> ImportSummary:
    """Import NVD CVE JSON 2.0 files and/or a KEV CSV into the overlay.

    Every file is read and validated before anything is written (``FeedError`` leaves the
    overlay as it was).  Without ``replace`` the import merges with the current overlay:
    a CVE seen again keeps its most recently modified NVD record, a KEV file replaces the
    previous catalogue."""
    if fingerprints is None:
        from camaudit.knowledge.fingerprints import default_db

        fingerprints = default_db()
    vendors = vocabulary(fingerprints)
    paths = [Path(p) for p in cve_feeds]
    nvd = [read_nvd(p, vendors, max_bytes=max_feed_bytes) for p in paths]
    kev_result = read_kev(Path(kev), max_bytes=max_kev_bytes) if kev is not None else None
    stamp = _now(now).isoformat(timespec="seconds")
    new_sources = []
    for path, result in zip(paths, nvd):
        sha, size = _file_sha256(path)
        new_sources.append(Source(kind="nvd", name=path.name, sha256=sha, size=size, imported=stamp,
                                  as_of=result.timestamp, read=result.read, kept=len(result.vulns),
                                  skipped=dict(result.skipped)))
    if kev is not None and kev_result is not None:
        sha, size = _file_sha256(Path(kev))
        new_sources.append(Source(kind="kev", name=Path(kev).name, sha256=sha, size=size,
                                  imported=stamp, as_of=kev_result.newest,
                                  read=len(kev_result.entries), kept=len(kev_result.entries)))

    directory = knowledge_home(home)
    base = data_version(DATA_DIR)
    with _locked(directory):
        current = None if replace else read_overlay(home)
        vulns: dict[str, ImportedVuln] = dict(current.vulns) if current else {}
        for result in nvd:
            for cve, v in result.vulns.items():
                old = vulns.get(cve)
                if old is None or (v.last_modified or "") >= (old.last_modified or ""):
                    vulns[cve] = v
        entries = kev_result.entries if kev_result else (current.kev if current else {})
        sources = [s for s in (current.manifest.sources if current else [])
                   if not (kev_result and s.kind == "kev")] + new_sources

        nvd_file = _data_file(directory, "nvd", NvdData(schema="camaudit-nvd-cves/1",
                                                            vulns=[vulns[k] for k in sorted(vulns)]),
                              len(vulns))
        kev_file = _data_file(directory, "kev", KevData(schema="camaudit-kev/1",
                                                            entries=[entries[k] for k in sorted(entries)]),
                              len(entries))
        manifest = Manifest(schema="camaudit-kb-overlay/1", updated=stamp, nvd=nvd_file, kev=kev_file, sources=sources)
        raw = json.dumps(manifest.model_dump(by_alias=True), indent=2, ensure_ascii=False).encode()
        _write_atomic(directory / MANIFEST, raw)
        _fsync_dir(directory)
        _remove_unnamed(directory, {nvd_file.name, kev_file.name})
    after = f"{base}+{hashlib.sha256(raw).hexdigest()[:12]}"
    return ImportSummary(directory, nvd, kev_result, overlay_version(base, current), after,
                         len(vulns), len(entries))


def _remove_unnamed(directory: Path, keep: set[str]) -> None:
    """Data files the manifest no longer names, and temporary files a crash left behind."""
    for path in directory.iterdir():
        if (_DATA_NAME.match(path.name) and path.name not in keep) or path.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def reset(home: str | Path | None = None) -> bool:
    """Drop the overlay (back to the packaged knowledge); False when there was none."""
    directory = knowledge_home(home)
    if not (directory / MANIFEST).exists():
        return False
    with _locked(directory):
        (directory / MANIFEST).unlink()
        _fsync_dir(directory)
        _remove_unnamed(directory, set())
    return True


# ------------------------------------------------------------------ status


def _age_days(as_of: str | None, now: dt.datetime) -> int | None:
    if not as_of:
        return None
    try:
        when = dt.datetime.fromisoformat(as_of)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0, (now - when).days)


def status(home: str | Path | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Version, sources, counts and age of the knowledge base, with warnings when stale.
    Raises ``KnowledgeError`` when the overlay is damaged."""
    from camaudit.knowledge import load_kb

    current = _now(now)
    packaged = load_kb(DATA_DIR)
    overlay = read_overlay(home)
    merged = apply_overlay(packaged, overlay)
    out: dict[str, Any] = {
        "directory": str(knowledge_home(home)),
        "version": merged.version,
        "packaged_version": packaged.version,
        "vulns_yaml_version": packaged.vulns.version,
        "cves": len(merged.vulns.vulns),
        "cves_packaged": len(packaged.vulns.vulns),
        "cves_imported": 0, "by_vendor": {}, "kev_entries": 0,
        "kev_cves": sum(1 for v in merged.vulns.vulns if v.kev),
        "updated": None, "sources": [], "age_days": {}, "warnings": [],
    }
    if overlay is None:
        out["warnings"].append("no NVD or KEV feed imported: only the packaged knowledge "
                               f"(vulns.yaml {packaged.vulns.version}); run `camaudit kb update`")
        return out
    out.update(cves_imported=len(overlay.vulns), kev_entries=len(overlay.kev),
               updated=overlay.manifest.updated,
               by_vendor=dict(sorted(Counter(v.vendor for v in overlay.vulns.values()).items())),
               sources=[s.model_dump() for s in overlay.manifest.sources])
    for kind, label in (("nvd", "NVD data"), ("kev", "KEV catalogue")):
        ages = [a for s in overlay.manifest.sources if s.kind == kind
                for a in [_age_days(s.as_of or s.imported, current)] if a is not None]
        if not ages:
            out["warnings"].append(f"no {label} imported")
            continue
        out["age_days"][kind] = min(ages)
        if min(ages) > STALE_DAYS:
            out["warnings"].append(f"{label} is {min(ages)} days old (more than {STALE_DAYS}): "
                                   f"bring newer files and run `camaudit kb update`")
    return out
