"""The demo province: seeded into a platform database by ``camaudit demo`` (and by the browser
tests, on their own addresses), then served until Ctrl-C.

The province is data (``demo-province.yaml``); this module only moves its address ranges to
another /24 when asked, draws a password per user, and hands the result to the backend's
``store.admin.apply_yaml`` (the same path as ``camaudit admin apply FILE``)."""

from __future__ import annotations

import copy
import secrets
from importlib.resources import files
from typing import Any

import yaml

LAB_PREFIX = "127.20.0"  # where the default lab fleet lives (src/camaudit/lab/fleet-default.yaml)


def province(prefix: str = LAB_PREFIX) -> dict[str, Any]:
    """The demo province, its systems' ranges moved from 127.20.0.x to ``prefix``.x."""
    data = yaml.safe_load((files("camaudit.web") / "demo-province.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    if prefix != LAB_PREFIX:
        for system in data.get("systems", []):
            system["ranges"] = [r.replace(LAB_PREFIX + ".", prefix + ".") for r in system["ranges"]]
    return data


def draw_passwords(data: dict[str, Any]) -> dict[str, str]:
    """A fresh random password for every user (written into ``data``); returns username → password."""
    out = {}
    for user in data.get("users", []):
        user["password"] = out[user["username"]] = secrets.token_urlsafe(12)
    return out


def seed(platform: Any, data: dict[str, Any]) -> Any:
    """Create the organisations, users with their roles, systems and schedules."""
    from camaudit.store.admin import apply_yaml

    return apply_yaml(platform, data)


def print_accounts(console: Any, data: dict[str, Any], passwords: dict[str, str], url: str) -> None:
    from rich.table import Table

    from camaudit.web.pages.labels import role_label

    names = {}

    def walk(orgs: list[dict[str, Any]]) -> None:
        for o in orgs:
            names[o["key"]] = o["name"]
            walk(o.get("children", []))

    walk(data.get("organisations", []))
    table = Table("user name", "password", "role", "organisation", title=f"Demo platform: {url}")
    for u in data.get("users", []):
        table.add_row(u["username"], passwords[u["username"]], role_label(u["role"]), names.get(u["org"], u["org"]))
    console.print(table)
