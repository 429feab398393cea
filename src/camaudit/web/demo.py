"""The demo province: seeded into a platform database by ``camaudit demo`` (and by the browser
tests, on their own addresses), then served until Ctrl-C.

The province is data (``demo-province.yaml``); this module only moves its address ranges to
another /24 when asked, draws a password per user, and hands the result to the backend's
``store.admin.apply`` (the same path as ``camaudit admin apply FILE``)."""

from __future__ import annotations

import copy
import secrets
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from rich.text import Text

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
    from camaudit.store.admin import apply

    return apply(platform, data, actor="demo")


def print_accounts(console: Any, data: dict[str, Any], passwords: dict[str, str], url: str) -> None:
    from rich.table import Table

    from camaudit.web.pages.labels import role_label

    table = Table("user name", "password", "role", "organisation", title=f"Demo platform: {url}")
    for u in data.get("users", []):
        for g in u.get("grants", []):
            table.add_row(u["username"], passwords[u["username"]], role_label(g["role"]), g["org"])
    console.print(table)


def fresh_sqlite(path: Path) -> str:
    """An empty SQLite database at ``path`` (an earlier demo's file and journals removed)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def request_first_scans(platform: Any, made: dict[str, Any]) -> list[dict[str, Any]]:
    """One scan per demo system (``made`` is what :func:`seed` returned), queued now: the
    in-process worker runs them as the server starts."""
    from camaudit.store import scans

    queued: list[dict[str, Any]] = []
    with platform.system("demo", perm="scan:run") as db:
        for system_id in made["systems"].values():
            queued.append(scans.request(db, system_id, request_key=f"demo-{system_id}-{secrets.token_hex(4)}"))
    return queued


def serve(out_dir: Path, *, host: str = "127.0.0.1", port: int = 8080, console: Any) -> None:
    """Seed the demo province into ``out_dir/demo-platform.sqlite`` and serve it until Ctrl-C."""
    import uvicorn

    from camaudit.store.platform import Platform
    from camaudit.web.app import create_app
    from camaudit.web.settings import Settings

    url = fresh_sqlite(out_dir / "demo-platform.sqlite")
    platform = Platform(url)
    try:
        data = province()
        passwords = draw_passwords(data)
        request_first_scans(platform, seed(platform, data))
    finally:
        platform.close()
    base = f"http://{host}:{port}"
    print_accounts(console, data, passwords, base)
    console.print(Text.assemble("platform: ", (base, "bold"),
                                f" (database {out_dir / 'demo-platform.sqlite'}); Ctrl-C stops it"))
    # plain http on loopback: the session cookie cannot carry the Secure flag there
    app = create_app(Settings(db_url=url, secure_cookies=False, tick_seconds=5.0))
    uvicorn.run(app, host=host, port=port, log_level="warning")
