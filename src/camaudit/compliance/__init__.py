"""Compliance layer: requirement catalogues (QCVN 11:2026/BCA, QCVN 135:2024/BTTTT, Decision
724/QĐ-BTTTT, ETSI EN 303 645) as validated data with their validity dates, the clauses each check
bears on, and the authorities and legal basis of a date (``authorities``)."""

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
