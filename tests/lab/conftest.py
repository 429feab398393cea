"""One lab for the module: the default fleet moved to its own /24 so that a lab left running
by ``camaudit lab up`` on 127.20.0.0/24 never collides with the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from camaudit.lab.fleet import Fleet, load_fleet
from camaudit.lab.runner import Lab

TEST_NET = "127.66.0"


def relocated(fleet: Fleet, prefix: str) -> Fleet:
    return fleet.relocated(prefix)


def addr(last: int) -> str:
    return f"{TEST_NET}.{last}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    state: Path = tmp_path_factory.mktemp("lab")
    lab = Lab(relocated(load_fleet("default"), TEST_NET), state)
    lab.start(timeout=60)
    yield lab
    lab.stop()
