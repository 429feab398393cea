"""Requirement catalogues kept as versioned data: QCVN 11:2026/BCA, QCVN 135:2024/BTTTT, Decision
724/QĐ-BTTTT and ETSI EN 303 645, each in ``catalogues/<name>.yaml``, validated by the models below.

Each document says whether it is binding (a national technical regulation) or a recommendation,
from when it is in force and by what it was superseded: ``Document.status_on(date)`` tells which
regulation governs a scan of that date (``camaudit.compliance.verdicts.resolve_profile``).

A catalogue has groups (a heading of the source document, with the sources that back it) and
clauses (one requirement each).  Every clause says how a verdict on it is reached:

  remote       the network assessment decides: a finding of one of ``checks`` is a failure, the
               checks having run with no finding is a pass
  mixed        a finding of one of ``checks`` is a failure, but a pass also needs the
               ``evidence`` described (vendor or operator documents)
  attestation  nothing observable from the network decides it; only ``evidence`` does

Check ids named by a clause are either known (they have an entry in the packaged
``knowledge/data/checks.yaml``) or planned (``catalogues/planned_checks.yaml``); a catalogue
naming any other id is refused.

Honesty rules enforced here: a clause id carries the document's own clause number only when
that number is confirmed (``confirmed: true``); otherwise the id is a stable slug, ``number`` is
null, ``confirmed`` is false and a ``note`` says what is missing.  "Confirmed" means stated by
the issued document itself or consistently by at least two independent public sources.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from camaudit.compliance.profiles import CATALOGUES
from camaudit.knowledge import KnowledgeError, load_model
from camaudit.knowledge.checkmeta import packaged_checks

__all__ = ["CATALOGUES", "Catalogue", "CatalogueError", "Clause", "Group", "load_all", "load_catalogue"]

DATA_DIR = Path(__file__).parent / "catalogues"
SCHEMA_DIR = Path(__file__).parent / "schema"
PLANNED_FILE = "planned_checks.yaml"

# a slug or a dotted/dashed clause number, optionally "group/clause": qcvn135:unique-password/per-device
_REF = re.compile(r"^(?P<cat>[a-z0-9]+(?:-[a-z0-9]+)*):(?P<local>[a-z0-9][a-z0-9.-]*(/[a-z0-9][a-z0-9.-]*)?)$")
# what a document's own clause number looks like inside an id ("2.1", "5.1-1", "2.3.4"): only a
# confirmed entry may carry one
_NUMBERISH = re.compile(r"(^|[/-])\d+(\.\d+)+")
_CHECK_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# letters that only Vietnamese spelling produces (precomposed, NFC): at least one per vi text
_VI_MARKS = set("ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
                "ÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ")


class CatalogueError(KnowledgeError):
    """A catalogue that cannot be used; the message names file, clause and field."""


class Judgement(str, Enum):
    REMOTE = "remote"
    ATTESTATION = "attestation"
    MIXED = "mixed"


class Wording(str, Enum):
    """Where a clause's Vietnamese text comes from."""

    OFFICIAL = "official"  # copied from the issued document itself
    QUOTED = "quoted"  # the document's wording as reproduced by a cited secondary source
    SUMMARY = "summary"  # our faithful summary of what the sources report
    TRANSLATION = "translation"  # our Vietnamese rendering of our English gist (foreign standards)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_vi(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        raise ValueError("Vietnamese text is not Unicode NFC (decomposed diacritics); "
                         "save it precomposed")
    if not _VI_MARKS.intersection(text):
        raise ValueError("Vietnamese text has no Vietnamese diacritics; write it with its marks")
    return text


def _check_en(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        raise ValueError("text is not Unicode NFC")
    return text


class Localised(_Strict):
    vi: str = Field(min_length=3)
    en: str = Field(min_length=3)

    @field_validator("vi")
    @classmethod
    def _vi(cls, v: str) -> str:
        return _check_vi(v)

    @field_validator("en")
    @classmethod
    def _en(cls, v: str) -> str:
        return _check_en(v)


class Relation(_Strict):
    """A correspondence with a clause of another catalogue."""

    ref: str
    basis: Literal["confirmed", "evident"]  # stated by a cited source / evident from the texts
    note: str = ""
    sources: tuple[HttpUrl, ...] = ()

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        m = _REF.match(v)
        if not m or m["cat"] not in CATALOGUES:
            raise ValueError(f"{v!r} is not '<catalogue>:<clause>' with catalogue one of "
                             f"{', '.join(CATALOGUES)}")
        return v

    @model_validator(mode="after")
    def _confirmed_needs_source(self) -> Relation:
        if self.basis == "confirmed" and not self.sources:
            raise ValueError("a confirmed relation names the sources that state it")
        return self


class DatedEvent(_Strict):
    event: Localised
    date: dt.date
    confirmed: bool
    sources: tuple[HttpUrl, ...] = Field(min_length=1)
    note: str = ""


class Supersession(_Strict):
    code: str = Field(min_length=3)
    instrument: str = Field(min_length=3)
    issued: dt.date
    effective: dt.date
    confirmed: bool
    sources: tuple[HttpUrl, ...] = Field(min_length=1)
    note: str = ""


class Document(_Strict):
    """The source document a catalogue encodes."""

    code: str = Field(min_length=3)  # "QCVN 135:2024/BTTTT"
    title: Localised
    issuer: Localised
    instrument: str | None = None  # the act that issued it: "Thông tư 21/2024/TT-BTTTT"
    binding: bool  # mandatory by law (a regulation) or a recommendation / voluntary standard
    in_force_from: dt.date | None = None  # a binding document's date of entry into force
    supersedes: tuple[str, ...] = ()  # codes of the documents it replaces
    editions: tuple[str, ...] = ()  # versions the catalogue follows or knows of
    dates: tuple[DatedEvent, ...] = ()
    superseded_by: Supersession | None = None
    sources: tuple[HttpUrl, ...] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _validity(self) -> Document:
        if self.binding and self.in_force_from is None:
            raise ValueError("a binding document needs 'in_force_from' (its date of entry into force)")
        sup = self.superseded_by
        if sup is not None and self.in_force_from is not None and sup.effective <= self.in_force_from:
            raise ValueError("superseded_by.effective is not after in_force_from")
        return self

    @property
    def superseded_on(self) -> dt.date | None:
        return None if self.superseded_by is None else self.superseded_by.effective

    def status_on(self, day: dt.date) -> Literal["in_force", "not_yet_in_force", "superseded", "recommended"]:
        """The document's standing on ``day``: a binding regulation is not yet in force, in force
        or superseded; anything else is a recommendation."""
        if not self.binding:
            return "recommended"
        if self.in_force_from is not None and day < self.in_force_from:
            return "not_yet_in_force"
        if self.superseded_on is not None and day >= self.superseded_on:
            return "superseded"
        return "in_force"


class Group(_Strict):
    """A heading of the source document (QCVN group, Decision requirement, ETSI clause 5.x)."""

    id: str
    number: str | None = None
    confirmed: bool
    title: Localised
    sources: tuple[HttpUrl, ...] = Field(min_length=1)
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _REF.match(v):
            raise ValueError(f"{v!r} is not '<catalogue>:<slug-or-number>'")
        return v

    @model_validator(mode="after")
    def _honest(self) -> Group:
        _honesty(self.confirmed, self.number, self.note, self.id)
        return self


class Clause(_Strict):
    """One requirement and how it is judged."""

    id: str
    group: str
    number: str | None = None  # the document's own clause number, only when confirmed
    confirmed: bool
    status: Literal["M", "R", "M C", "R C"] | None = None  # ETSI Table B.1 notation
    title: Localised
    text: Localised
    wording: Wording
    judged_by: Judgement
    checks: tuple[str, ...] = ()
    evidence: Localised | None = None  # what an attestation must show
    related: tuple[Relation, ...] = ()
    aliases: tuple[str, ...] = ()  # older references to this clause (e.g. in checks.yaml)
    sources: tuple[HttpUrl, ...] = ()  # besides the group's
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _REF.match(v):
            raise ValueError(f"{v!r} is not '<catalogue>:<slug-or-number>'")
        return v

    @field_validator("checks")
    @classmethod
    def _checks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a check id is listed twice")
        unknown = [c for c in v if check_status(c) is None]
        if unknown:
            raise ValueError(f"unknown check id(s) {', '.join(map(repr, unknown))}: neither in "
                             f"knowledge/data/checks.yaml nor in {PLANNED_FILE}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Clause:
        _honesty(self.confirmed, self.number, self.note, self.id)
        if self.judged_by is Judgement.ATTESTATION:
            if self.checks:
                raise ValueError("judged_by attestation names no checks (use mixed)")
        elif not self.checks:
            raise ValueError(f"judged_by {self.judged_by.value} needs the check ids that bear on it")
        if self.judged_by is not Judgement.REMOTE and self.evidence is None:
            raise ValueError(f"judged_by {self.judged_by.value} needs 'evidence': what a vendor "
                             f"or operator must show")
        if self.judged_by is Judgement.REMOTE and self.evidence is not None:
            raise ValueError("judged_by remote takes no 'evidence' (use mixed)")
        return self


def _honesty(confirmed: bool, number: str | None, note: str, ident: str = "") -> None:
    if not confirmed and _NUMBERISH.search(ident.split(":", 1)[-1]):
        raise ValueError(f"{ident}: an unconfirmed entry's id looks like a clause number; use a slug")
    if not confirmed and number is not None:
        raise ValueError("an unconfirmed entry has number: null (never a guessed number)")
    if not confirmed and not note.strip():
        raise ValueError("an unconfirmed entry needs a 'note' saying what is not confirmed")


class Catalogue(_Strict):
    """One requirement catalogue, validated."""

    version: str = Field(min_length=1)  # version of this data file
    catalogue: str
    document: Document
    groups: tuple[Group, ...] = Field(min_length=1)
    clauses: tuple[Clause, ...] = Field(min_length=1)

    @field_validator("catalogue")
    @classmethod
    def _name(cls, v: str) -> str:
        if v not in CATALOGUES:
            raise ValueError(f"unknown catalogue {v!r}; one of {', '.join(CATALOGUES)}")
        return v

    @model_validator(mode="after")
    def _references(self) -> Catalogue:
        prefix = self.catalogue + ":"
        seen: set[str] = set()
        items: tuple[Group | Clause, ...] = (*self.groups, *self.clauses)
        for item in items:
            kind = "group" if isinstance(item, Group) else "clause"
            if not item.id.startswith(prefix):
                raise ValueError(f"{kind} {item.id}: field id: does not start with {prefix!r}")
            if item.id in seen:
                raise ValueError(f"{kind} {item.id}: field id: used twice")
            seen.add(item.id)
        groups = {g.id for g in self.groups}
        aliases: set[str] = set()
        for c in self.clauses:
            if c.group not in groups:
                raise ValueError(f"clause {c.id}: field group: no group {c.group!r}")
            for r in c.related:
                if r.ref.startswith(prefix):
                    raise ValueError(f"clause {c.id}: field related: {r.ref} is in the same "
                                     f"catalogue")
            for a in c.aliases:
                if a in seen or a in aliases:
                    raise ValueError(f"clause {c.id}: field aliases: {a!r} is already an id or "
                                     f"an alias")
                aliases.add(a)
        used = {c.group for c in self.clauses}
        empty = sorted(groups - used)
        if empty:
            raise ValueError(f"group {empty[0]}: has no clause")
        return self

    @functools.cached_property
    def _by_ref(self) -> dict[str, Clause]:
        out: dict[str, Clause] = {}
        for c in self.clauses:
            out[c.id] = c
            out.update(dict.fromkeys(c.aliases, c))
        return out

    def clause(self, ref: str) -> Clause:
        """The clause with this id or alias."""
        try:
            return self._by_ref[ref]
        except KeyError:
            raise KeyError(f"{self.catalogue}: no clause {ref!r}") from None

    def group(self, group_id: str) -> Group:
        for g in self.groups:
            if g.id == group_id:
                return g
        raise KeyError(f"{self.catalogue}: no group {group_id!r}")

    def clauses_in(self, group_id: str) -> list[Clause]:
        self.group(group_id)
        return [c for c in self.clauses if c.group == group_id]

    def clauses_for_check(self, check_id: str) -> list[Clause]:
        """The clauses a check's findings bear on (remote and mixed clauses naming it)."""
        return [c for c in self.clauses if check_id in c.checks]

    def sources_for(self, clause: Clause) -> tuple[str, ...]:
        """The clause's own sources followed by its group's."""
        urls = [str(u) for u in (*clause.sources, *self.group(clause.group).sources)]
        return tuple(dict.fromkeys(urls))

    def check_ids(self) -> set[str]:
        return {c for clause in self.clauses for c in clause.checks}


class PlannedCheck(_Strict):
    id: str
    title: Localised

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _CHECK_ID.match(v):
            raise ValueError(f"{v!r} is not a check id (lower-case words joined by '-')")
        return v


class PlannedChecks(_Strict):
    """Checks that catalogues may already name, not yet implemented."""

    version: str = Field(min_length=1)
    checks: tuple[PlannedCheck, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PlannedChecks:
        ids = [c.id for c in self.checks]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"planned check {dup[0]}: listed twice")
        return self


def known_checks() -> frozenset[str]:
    """Check ids with an entry in the packaged checks.yaml (implemented checks)."""
    return frozenset(packaged_checks().checks)


@functools.cache
def planned_checks() -> PlannedChecks:
    return _load(PlannedChecks, DATA_DIR / PLANNED_FILE)


def check_status(check_id: str) -> Literal["known", "planned"] | None:
    """Whether a check id is implemented ("known"), only "planned", or unknown (None)."""
    if check_id in known_checks():
        return "known"
    if any(c.id == check_id for c in planned_checks().checks):
        return "planned"
    return None


def _load(model: type[Any], path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{path.name}: cannot read {path}: {exc.strerror}") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path.name}: not valid UTF-8 at byte {exc.start}") from None
    try:
        return load_model(model, data, path.name)
    except KnowledgeError as exc:
        raise CatalogueError(str(exc)) from None


def load_catalogue(name: str, data_dir: str | Path | None = None) -> Catalogue:
    """Load and validate one catalogue (one of ``CATALOGUES``)."""
    if name not in CATALOGUES:
        raise CatalogueError(f"unknown catalogue {name!r}; one of {', '.join(CATALOGUES)}")
    if data_dir is None:
        return _packaged(name)
    return _load_checked(name, Path(data_dir))


@functools.cache
def _packaged(name: str) -> Catalogue:
    return _load_checked(name, DATA_DIR)


def _load_checked(name: str, base: Path) -> Catalogue:
    cat: Catalogue = _load(Catalogue, base / f"{name}.yaml")
    if cat.catalogue != name:
        raise CatalogueError(f"{name}.yaml: entry (top level): field catalogue: says "
                             f"{cat.catalogue!r}, the file name says {name!r}")
    return cat


def load_all(data_dir: str | Path | None = None) -> dict[str, Catalogue]:
    """Every catalogue, with the references between them checked (``related`` must resolve)."""
    cats = {name: load_catalogue(name, data_dir) for name in CATALOGUES}
    for cat in cats.values():
        for clause in cat.clauses:
            for rel in clause.related:
                other = cats[rel.ref.split(":", 1)[0]]
                try:
                    other.clause(rel.ref)
                except KeyError:
                    raise CatalogueError(f"{cat.catalogue}.yaml: clause {clause.id}: field "
                                         f"related: {rel.ref} does not exist") from None
    return cats


def find_clause(ref: str, catalogues: dict[str, Catalogue] | None = None) -> Clause:
    """Resolve a clause id or alias (e.g. a ``Finding.clauses`` entry) in any catalogue."""
    cats = catalogues if catalogues is not None else load_all()
    for cat in cats.values():
        try:
            return cat.clause(ref)
        except KeyError:
            continue
    raise KeyError(f"no catalogue has a clause {ref!r}")


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of the catalogue files, the planned-checks file and the authorities file."""
    from camaudit.compliance.authorities import Authorities

    return {"catalogue.schema.json": Catalogue.model_json_schema(),
            "planned_checks.schema.json": PlannedChecks.model_json_schema(),
            "authorities.schema.json": Authorities.model_json_schema()}


def write_schemas(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    """Write the JSON Schemas next to the data (kept in the repository for editors)."""
    from camaudit.knowledge import write_schemas as write

    return write(out_dir, json_schemas())
