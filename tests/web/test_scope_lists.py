"""The scope's organisation ids travel as ONE parameter when they are many (an array on
PostgreSQL, JSON read by json_each on SQLite).  The small test province has 7 organisations, so
the authorisation matrix only ever exercises the plain IN list: here the long form is forced
(``SMALL_IN = 0``) and must give exactly what the plain list gives, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from camaudit.store import access, findings, orgs, scans, systems, users
from camaudit.store.models import Device
from camaudit.store.platform_models import Organisation, User

ROLES_TO_CHECK = ("agency_operator", "steering_officer", "police_viewer", "admin")


def _views(world: Any, username: str) -> dict[str, Any]:
    p = world.platform
    with p.system("t") as db:
        uid = db.session.scalar(select(User.id).where(User.username == username))
    who = users.principal(p, uid)
    out: dict[str, Any] = {}
    with p.scoped(who, "org:read") as db:
        out["visible"] = sorted(o["id"] for o in orgs.visible(db))
    with p.scoped(who, "system:read") as db:
        out["systems"] = sorted(s["id"] for s in systems.list(db))
        out["devices"] = sorted(db.scalars(select(Device.id)))  # the session backstop alone
        # a device row through the ORM's own get(): the backstop's criteria apply there too
        out["device_get"] = {k: db.session.get(Device, world.device[k]) is not None for k in world.device}
    with p.scoped(who, "finding:read") as db:
        out["findings"] = sorted(f["id"] for f in findings.list(db, status=None, limit=5000))
        try:
            out["overview"] = sorted((r["id"], r["devices"]) for r in orgs.overview(db, world.org["P"]))
        except access.NotFound:
            out["overview"] = "not found"
    with p.scoped(who, "scan:read") as db:
        out["scans"] = sorted(s["id"] for s in scans.list(db, limit=1000))
    return out


def test_one_parameter_id_lists_select_what_plain_lists_select(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    names = {role: world.role_user[role] for role in ROLES_TO_CHECK}
    plain = {role: _views(world, u) for role, u in names.items()}
    monkeypatch.setattr(access, "SMALL_IN", 0)
    long_form = {role: _views(world, u) for role, u in names.items()}
    assert long_form == plain
    # and the comparison is not between two empty answers: the operator on D1 sees D1's subtree
    # and nothing of D2's
    op = long_form["agency_operator"]
    assert world.org["D1"] in op["visible"] and world.org["A11"] in op["visible"]
    assert world.org["D2"] not in op["visible"]
    assert op["device_get"]["A11"] and not op["device_get"]["A21"]
    assert world.system["A12"] in op["systems"] and world.system["A22"] not in op["systems"]
    assert world.finding["A11"] in op["findings"] and world.finding["A21"] not in op["findings"]
    assert long_form["police_viewer"]["systems"] == [] and long_form["police_viewer"]["findings"] == []


def test_in_ids_matches_exactly_the_listed_ids(world: Any) -> None:
    p = world.platform
    with p.sessions() as s:
        every = sorted(s.scalars(select(Organisation.id)))
        wanted = every[::2] + [every[0], -7, 10**9]  # duplicates and ids that do not exist
        for small in (0, 1000):
            access.SMALL_IN, saved = small, access.SMALL_IN
            try:
                got = sorted(s.scalars(select(Organisation.id).where(access.in_ids(Organisation.id, wanted))))
                none = list(s.scalars(select(Organisation.id).where(access.in_ids(Organisation.id, []))))
            finally:
                access.SMALL_IN = saved
            assert got == every[::2]
            assert none == []
