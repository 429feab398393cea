"""Fingerprints as data: the schema, the loader and its checks.

The data lives in ``knowledge/data/fingerprints/*.yaml``.  Each file may hold three lists:

``vendors``
    one canonical spelling per vendor, the aliases devices use for it, the OEM it rebadges
    (``oem_of``), the vendor name NVD uses in CPE names, and the kinds of device it makes.
``model_kinds``
    model-number rules that decide camera / NVR / DVR for a vendor's model numbers.
``fingerprints``
    Recog-style: one observation field, one regular expression, parameters (literals or
    ``$1`` / ``$name`` capture references), a certainty, and the examples it must match
    (with the parameters each yields) and the counter-examples it must not.

A broken file is refused with :class:`FingerprintError`, naming the file, the entry id and
the field at fault.  ``python -m camaudit.knowledge.fingerprints --schema`` prints the JSON
Schema kept in ``knowledge/schema/fingerprints.schema.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from camaudit.knowledge import load_yaml

DATA_DIR = Path(__file__).parent / "data" / "fingerprints"
SCHEMA_PATH = Path(__file__).parent / "schema" / "fingerprints.schema.json"
SCHEMA_ID = "camaudit-fingerprints/1"

# Observation namespaces a fingerprint may read (see camaudit.model's docstring).
NAMESPACES = frozenset({
    "http", "tls", "rtsp", "onvif", "wsd", "ssdp", "upnp", "telnet", "ftp", "ssh", "snmp",
    "hiksdk", "dvrip", "xmeye", "device", "neigh",
})
FIELD_RE = re.compile(r"^([a-z]+)\.([a-z][a-z0-9_]*)$")
REF_RE = re.compile(r"^\$(\d+|[A-Za-z_]\w*)$")
ANY_FIELD = "*"  # a fingerprint or model rule that applies to any text field / any vendor

Kind = Literal["camera", "nvr", "dvr", "other"]
ParamName = Literal[
    "vendor", "model", "firmware", "kind", "family", "serial", "mac", "service",
    "service_version", "os",
]
Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


class FingerprintError(ValueError):
    """A fingerprint file that cannot be used, with where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compile(pattern: str, case: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if case == "insensitive" else 0)
    except re.error as exc:
        raise ValueError(f"regular expression does not compile: {exc}") from None


class Vendor(_Strict):
    """One vendor under its canonical spelling."""

    name: str = Field(min_length=1, description="canonical spelling used in reports")
    aliases: list[str] = Field(default_factory=list,
                               description="other spellings devices send (compared case-insensitively)")
    oem_of: str | None = Field(None, description="canonical vendor whose hardware/firmware this brand resells")
    cpe_vendor: str | None = Field(None, description="vendor part of NVD CPE names, when confirmed")
    cpe_firmware_suffix: bool = Field(
        True, description="NVD names firmware products '<model>_firmware' for this vendor")
    makes: list[Kind] = Field(min_length=1, description="kinds of device the vendor makes")
    mentions: list[str] | None = Field(
        None, description="words that name the vendor when found whole in any text field (title, "
        "realm, banners, sysDescr, certificate O/OU/CN); default: the name and the aliases of four "
        "or more characters; [] for a name too common to count")
    enterprise_numbers: list[int] = Field(
        default_factory=list, description="IANA private enterprise numbers (SNMP sysObjectID "
        "1.3.6.1.4.1.<n>) registered to the vendor")


class Example(_Strict):
    """A value the pattern must match and the parameters it must yield."""

    value: str
    expect: dict[ParamName, str] = Field(default_factory=dict)


class ModelKind(_Strict):
    """A model-number rule: the vendor's models matching ``pattern`` are of ``kind``."""

    id: Id
    vendor: str = Field(description="canonical vendor, or '*' for a vendor-neutral rule (tried last)")
    pattern: str
    case: Literal["sensitive", "insensitive"]
    kind: Kind
    examples: list[str] = Field(min_length=1)
    counter_examples: list[str] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str) -> str:
        _compile(v, "sensitive")
        return v

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern, self.case)


class Fingerprint(_Strict):
    """One pattern over one observation field."""

    id: Id
    description: str = Field(min_length=1)
    field: str = Field(description="observation field, e.g. http.server (namespace.key), or '*' "
                       "for any text field of any observation (see camaudit.identify.matcher.TEXT_SKIP)")
    pattern: str = Field(description="Python regular expression, searched in the value; anchor it")
    case: Literal["sensitive", "insensitive"]
    certainty: float = Field(gt=0.0, le=1.0)
    params: dict[ParamName, str] = Field(
        default_factory=dict,
        description="literal values, or $1 / $name to take a capture group")
    examples: list[Example] = Field(min_length=1)
    counter_examples: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str) -> str:
        _compile(v, "sensitive")
        return v

    @field_validator("field")
    @classmethod
    def _field_known(cls, v: str) -> str:
        if v == ANY_FIELD:
            return v
        m = FIELD_RE.match(v)
        if not m or m.group(1) not in NAMESPACES:
            raise ValueError(
                f"unknown observation field {v!r}: use namespace.key with a namespace among "
                + ", ".join(sorted(NAMESPACES)))
        return v

    @model_validator(mode="after")
    def _params_resolve(self) -> "Fingerprint":
        rx = _compile(self.pattern, self.case)
        for name, value in self.params.items():
            ref = REF_RE.match(value)
            if ref:
                key = ref.group(1)
                if key.isdigit() and not 1 <= int(key) <= rx.groups:
                    raise ValueError(f"param {name}: {value} names a group the pattern does not have")
                if not key.isdigit() and key not in rx.groupindex:
                    raise ValueError(f"param {name}: {value} names no group of the pattern")
                if name == "kind":
                    raise ValueError("param kind must be a literal (camera, nvr, dvr, other)")
            elif name == "kind" and value not in ("camera", "nvr", "dvr", "other"):
                raise ValueError(f"param kind {value!r} is not one of camera, nvr, dvr, other")
        for ex in self.examples:
            unknown = set(ex.expect) - set(self.params)
            if unknown:
                raise ValueError(f"example {ex.value!r} expects params the fingerprint never sets: "
                                 + ", ".join(sorted(unknown)))
        return self

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern, self.case)

    def extract(self, value: str) -> dict[str, str] | None:
        """The parameters this fingerprint yields for ``value``, or None when it does not match."""
        m = self.regex.search(value)
        if m is None:
            return None
        out: dict[str, str] = {}
        for name, spec in self.params.items():
            ref = REF_RE.match(spec)
            if ref is None:
                out[name] = spec
                continue
            key = ref.group(1)
            got = m.group(int(key)) if key.isdigit() else m.group(key)
            if got is not None and got.strip():
                out[name] = got.strip()
        return out


class FingerprintFile(_Strict):
    """The content of one fingerprint data file."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="camaudit fingerprints")
    schema_: Literal["camaudit-fingerprints/1"] = Field(alias="schema")
    vendors: list[Vendor] = Field(default_factory=list)
    model_kinds: list[ModelKind] = Field(default_factory=list)
    fingerprints: list[Fingerprint] = Field(default_factory=list)


class FingerprintDB:
    """All fingerprint files merged and cross-checked."""

    def __init__(self, files: dict[str, FingerprintFile], digest: str) -> None:
        self.digest = digest
        self.vendors: dict[str, Vendor] = {}
        self.model_kinds: list[ModelKind] = []
        self.fingerprints: list[Fingerprint] = []
        seen: dict[str, str] = {}
        for name, f in files.items():
            for v in f.vendors:
                if v.name in self.vendors:
                    raise FingerprintError(f"{name}: vendor {v.name!r} field name: defined twice")
                self.vendors[v.name] = v
            entries: list[ModelKind | Fingerprint] = [*f.model_kinds, *f.fingerprints]
            for entry in entries:
                if entry.id in seen:
                    raise FingerprintError(
                        f"{name}: {_what(entry)} {entry.id!r} field id: already used in {seen[entry.id]}")
                seen[entry.id] = name
            self.model_kinds.extend(f.model_kinds)
            self.fingerprints.extend(f.fingerprints)
        self._cross_check(files)

    def _cross_check(self, files: dict[str, FingerprintFile]) -> None:
        owner: dict[int, str] = {}
        for name, f in files.items():
            for v in f.vendors:
                for n in v.enterprise_numbers:
                    if n in owner:
                        raise FingerprintError(
                            f"{name}: vendor {v.name!r} field enterprise_numbers: {n} already "
                            f"belongs to {owner[n]!r}")
                    owner[n] = v.name
        for name, f in files.items():
            for v in f.vendors:
                if v.oem_of is not None and v.oem_of not in self.vendors:
                    raise FingerprintError(
                        f"{name}: vendor {v.name!r} field oem_of: {v.oem_of!r} is not a listed vendor")
            for mk in f.model_kinds:
                if mk.vendor != ANY_FIELD and mk.vendor not in self.vendors:
                    raise FingerprintError(
                        f"{name}: model_kind {mk.id!r} field vendor: {mk.vendor!r} is not a listed vendor")
            for fp in f.fingerprints:
                vendor = fp.params.get("vendor")
                if vendor is not None and not REF_RE.match(vendor) and vendor not in self.vendors:
                    raise FingerprintError(
                        f"{name}: fingerprint {fp.id!r} field params.vendor: {vendor!r} is not a "
                        "listed vendor (add it to vendors or fix the spelling)")


def _what(entry: object) -> str:
    return "model_kind" if isinstance(entry, ModelKind) else "fingerprint"


def _explain(name: str, raw: Any, err: ValidationError) -> FingerprintError:
    """Turn pydantic's error list into lines naming the entry id and the field."""
    lines = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] in ("fingerprints", "model_kinds", "vendors") and isinstance(loc[1], int):
            section, index = loc[0], loc[1]
            entry = raw.get(section, [])[index] if isinstance(raw, dict) else None
            key = "name" if section == "vendors" else "id"
            ident = entry.get(key, f"#{index}") if isinstance(entry, dict) else f"#{index}"
            field = ".".join(str(p) for p in loc[2:]) or "(entry)"
            label = {"fingerprints": "fingerprint", "model_kinds": "model_kind", "vendors": "vendor"}[section]
            where = f"{label} {ident!r} field {field}"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {where}: {msg}")
    return FingerprintError("\n".join(lines))


def parse_file(name: str, text: str) -> FingerprintFile:
    """Parse and validate one file's text; ``name`` is used in error messages."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise FingerprintError(f"{name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise FingerprintError(f"{name}: expected a mapping with schema, vendors, model_kinds, fingerprints")
    try:
        return FingerprintFile.model_validate(raw)
    except ValidationError as exc:
        raise _explain(name, raw, exc) from None


def load_fingerprints(paths: Iterable[Path] | None = None) -> FingerprintDB:
    """Load, validate and merge fingerprint files (default: every file in ``DATA_DIR``)."""
    files = sorted(paths) if paths is not None else sorted(DATA_DIR.glob("*.yaml"))
    if not files:
        raise FingerprintError(f"no fingerprint files found in {DATA_DIR}")
    parsed: dict[str, FingerprintFile] = {}
    h = hashlib.sha256()
    for path in files:
        text = path.read_text(encoding="utf-8")
        h.update(path.name.encode() + b"\0" + text.encode())
        parsed[path.name] = parse_file(path.name, text)
    return FingerprintDB(parsed, h.hexdigest()[:16])


@functools.lru_cache(maxsize=1)
def default_db() -> FingerprintDB:
    """The packaged fingerprints, loaded once."""
    return load_fingerprints()


def json_schema() -> dict[str, Any]:
    """JSON Schema of one fingerprint file, exported from the pydantic model."""
    schema = FingerprintFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def _main(argv: list[str]) -> int:
    if argv[1:] == ["--schema"]:
        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    try:
        db = load_fingerprints([Path(a) for a in argv[1:]] or None)
    except FingerprintError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{len(db.fingerprints)} fingerprints, {len(db.model_kinds)} model rules, "
          f"{len(db.vendors)} vendors, digest {db.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
