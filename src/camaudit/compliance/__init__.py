"""Compliance layer: requirement catalogues (QCVN 135:2024/BTTTT, Decision 724/QĐ-BTTTT,
ETSI EN 303 645) as validated data, and the clauses each check bears on."""

from camaudit.compliance.catalogue import (
    CATALOGUES,
    Catalogue,
    CatalogueError,
    Clause,
    Group,
    Judgement,
    Wording,
    check_status,
    find_clause,
    load_all,
    load_catalogue,
)

__all__ = ["CATALOGUES", "Catalogue", "CatalogueError", "Clause", "Group", "Judgement", "Wording",
           "check_status", "find_clause", "load_all", "load_catalogue"]
