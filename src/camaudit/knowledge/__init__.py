"""Knowledge kept as versioned data: default credentials, RTSP routes, vulnerable firmware,
check metadata (and fingerprints, loaded by ``camaudit.knowledge.fingerprints``).

Each data file carries a ``version:`` and is validated by a pydantic model when loaded; a
malformed file is refused with a ``KnowledgeError`` naming the file, the entry and the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from camaudit.knowledge.checkmeta import ChecksFile
from camaudit.knowledge.credentials import CredentialsFile, RoutesFile
from camaudit.knowledge.vulns import VulnsFile

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_DIR = Path(__file__).parent / "schema"

# data file -> the model that validates it
MODELS: dict[str, type[BaseModel]] = {
    "credentials.yaml": CredentialsFile,
    "rtsp_routes.yaml": RoutesFile,
    "vulns.yaml": VulnsFile,
    "checks.yaml": ChecksFile,
}

# spellings seen in banners, ONVIF and SNMP answers -> the vendor key used in the data files
_VENDOR_ALIASES = {
    "hikvision": "hikvision", "hangzhou hikvision": "hikvision", "hikvision digital technology": "hikvision",
    "dahua": "dahua", "dahua technology": "dahua", "zhejiang dahua": "dahua",
    "axis": "axis", "axis communications": "axis",
    "xiongmai": "xiongmai", "xm": "xiongmai", "hangzhou xiongmai": "xiongmai",
    "netsurveillance": "xiongmai",
    "uniview": "uniview", "unv": "uniview", "zhejiang uniview": "uniview",
    "foscam": "foscam", "vivotek": "vivotek",
    "samsung": "samsung", "hanwha": "samsung", "hanwha techwin": "samsung",
    "hanwha vision": "samsung", "wisenet": "samsung",
    "panasonic": "panasonic", "i-pro": "panasonic",
    "bosch": "bosch", "bosch security systems": "bosch",
    "avtech": "avtech", "ubiquiti": "ubiquiti", "ubnt": "ubiquiti",
    "acti": "acti", "reolink": "reolink", "milesight": "milesight", "tiandy": "tiandy",
}

T = TypeVar("T", bound=BaseModel)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ~10x faster


def load_yaml(data: bytes | str):
    """Parse YAML safely (no tags, no objects), with libyaml when available."""
    return yaml.load(data, Loader=_YAML_LOADER)  # noqa: S506 - a SafeLoader


class KnowledgeError(ValueError):
    """A data file that cannot be used; the message names file, entry and field."""


def vendor_key(vendor: str | None) -> str | None:
    """'HIKVISION' / 'Hangzhou Hikvision Digital Technology Co., Ltd.' -> 'hikvision'."""
    if not vendor:
        return None
    text = vendor.strip().lower().replace(",", " ").replace(".", " ")
    text = " ".join(w for w in text.split() if w not in {"co", "ltd", "inc", "ab", "corp", "llc"})
    if text in _VENDOR_ALIASES:
        return _VENDOR_ALIASES[text]
    for alias, key in sorted(_VENDOR_ALIASES.items(), key=lambda kv: -len(kv[0])):
        if len(alias) > 2 and alias in text:
            return key
    return text.replace(" ", "-") or None


def _dotted(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _where(loc: tuple[Any, ...], raw: Any) -> tuple[str, str]:
    """Split a pydantic error location into (entry, field): ('vulns', 3, 'cvss', 'score') ->
    ('vulns[3] (CVE-...)', 'cvss.score'); ('checks', 'x', 'title', 'vi') -> ('checks.x', 'title.vi')."""
    parts = list(loc)
    cut = next((i + 1 for i, p in enumerate(parts) if isinstance(p, int)), None)
    if cut is None:
        cut = 2 if len(parts) > 2 and parts[0] in ("vendors", "checks") else min(1, len(parts) - 1)
    entry = _dotted(parts[:cut]) or "(top level)"
    node = raw
    for p in parts[:cut]:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            node = None
            break
    if isinstance(node, dict) and isinstance(node.get("id"), str):
        entry += f" ({node['id']})"
    return entry, _dotted(parts[cut:]) or "(the entry itself)"


def load_model(model: type[T], data: bytes | str, filename: str) -> T:
    """Parse YAML and validate it, or raise ``KnowledgeError`` naming file, entry and field."""
    try:
        raw = load_yaml(data)
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{filename}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or "version" not in raw:
        raise KnowledgeError(f"{filename}: entry (top level): field 'version': missing; "
                             f"every knowledge file starts with 'version:'")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            entry, field = _where(tuple(err["loc"]), raw)
            lines.append(f"{filename}: entry {entry}: field {field}: {err['msg']}")
        raise KnowledgeError("\n".join(lines)) from None


@dataclass(frozen=True)
class KnowledgeBase:
    version: str  # short hash of every data file, recorded with each scan
    credentials: CredentialsFile
    routes: RoutesFile
    vulns: VulnsFile
    checks: ChecksFile
    data_dir: Path

    @functools.cached_property
    def fingerprints(self) -> Any:
        """Fingerprints, loaded by the identification package on first use."""
        from camaudit.knowledge import fingerprints

        return fingerprints.load_fingerprints(sorted((self.data_dir / "fingerprints").glob("*.yaml")))


def data_version(data_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(data_dir.rglob("*.yaml")):
        h.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def load_kb(data_dir: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge files from ``data_dir`` (default: the packaged ones)."""
    base = Path(data_dir) if data_dir is not None else DATA_DIR
    loaded: dict[str, BaseModel] = {}
    for name, model in MODELS.items():
        path = base / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KnowledgeError(f"{name}: cannot read {path}: {exc.strerror}") from None
        loaded[name] = load_model(model, data, name)
    kb = KnowledgeBase(
        version=data_version(base),
        credentials=loaded["credentials.yaml"],  # type: ignore[arg-type]
        routes=loaded["rtsp_routes.yaml"],  # type: ignore[arg-type]
        vulns=loaded["vulns.yaml"],  # type: ignore[arg-type]
        checks=loaded["checks.yaml"],  # type: ignore[arg-type]
        data_dir=base,
    )
    if data_dir is None:  # the packaged data: merge the offline imports (camaudit kb update)
        from camaudit.knowledge.update import with_overlay

        kb = with_overlay(kb)
    return kb


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each data file, from its pydantic model (file name -> schema)."""
    return {name.replace(".yaml", ".schema.json"): model.model_json_schema()
            for name, model in MODELS.items()}


def write_schemas(out_dir: Path = SCHEMA_DIR, schemas: dict[str, dict[str, Any]] | None = None) -> list[Path]:
    """Write JSON Schemas (default: the knowledge files') where they are kept in the repository,
    so editors can validate the YAML; stable formatting, so a test can compare them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (json_schemas() if schemas is None else schemas).items():
        path = out_dir / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written
