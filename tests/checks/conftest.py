from __future__ import annotations

import pytest

from camaudit.checks.base import CheckContext, LoginBudget
from camaudit.knowledge import load_kb


@pytest.fixture(scope="session")
def kb():
    return load_kb()


@pytest.fixture
def ctx(kb):
    return CheckContext(timeout=3.0, kb=kb, budget=LoginBudget())
