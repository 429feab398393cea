"""Organisations, users and grants from Python or a YAML file (``camaudit admin apply``; the
demo seeds its province with it).  Idempotent: existing names are reused, not duplicated.

    organisations:
      - name: Tỉnh A
        kind: province
        children:
          - {name: Sở X, kind: department, commune: Phường 1}
    users:
      - {username: ops, password: "...", display_name: ..., grants: [{role: agency_operator, org: Sở X}]}
    systems:
      - {org: Sở X, name: ..., ranges: [10.0.0.0/24], authorisation_doc: ..., cameras: 12}
    schedules:
      - {org: Sở X, system: ..., rrule: "FREQ=MONTHLY;BYDAY=1MO"}
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from camaudit.store import orgs, schedules, systems, users
from camaudit.store.access import InputError
from camaudit.store.platform import Platform
from camaudit.store.platform_models import CameraSystem, Organisation, Schedule, User


def apply(platform: Platform, data: dict[str, Any], *, actor: str = "admin") -> dict[str, Any]:
    """All or nothing: one transaction, committed only when every item was created."""
    with platform.system(actor, "org:write") as db:
        db.session.info["defer_commit"] = True
        made = _apply(db, data)
        db.session.commit()
    return made


def _items(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = data.get(name) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(f"{name}: give a list of mappings")
    return items


def _apply(db: Any, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError("the file must hold a mapping (organisations, users, systems, schedules)")
    made: dict[str, Any] = {"organisations": {}, "users": {}, "systems": {}, "schedules": []}

    def org_named(name: str) -> int:
        if name in made["organisations"]:
            return int(made["organisations"][name])
        oid = db.session.scalar(select(Organisation.id).where(Organisation.name == name).order_by(Organisation.id))
        if oid is None:
            raise InputError(f"no organisation named {name!r}")
        return int(oid)

    def walk(items: Any, parent: int | None) -> None:
        if not isinstance(items, list):
            raise InputError("organisations and children: give a list")
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                raise InputError("each organisation needs a name")
            oid = db.session.scalar(select(Organisation.id).where(Organisation.name == item["name"],
                                                                  Organisation.parent_id == parent))
            if oid is None:
                oid = orgs.create(db, name=str(item["name"]), parent_id=parent, kind=str(item.get("kind", "")),
                                  commune=str(item.get("commune", "")),
                                  max_running_scans=int(item.get("max_running_scans", 2)),
                                  max_rate=float(item.get("max_rate", 500.0)))["id"]
            made["organisations"][item["name"]] = oid
            if item.get("key"):
                made["organisations"][item["key"]] = oid
            walk(item.get("children") or [], oid)

    walk(data.get("organisations") or [], None)
    for u in _items(data, "users"):
        uid = db.session.scalar(select(User.id).where(User.username == u.get("username")))
        if uid is None:
            uid = users.create_user(db, username=str(u.get("username", "")), password=u.get("password"),
                                    display_name=str(u.get("display_name") or u.get("name", "")))["id"]
        grants = list(u.get("grants") or [])
        if u.get("role"):  # the short form: one role on one organisation
            grants.append({"role": u["role"], "org": u.get("org", "")})
        for g in grants:
            users.grant(db, user_id=uid, org_id=org_named(str(g.get("org", ""))), role=str(g.get("role", "")))
        made["users"][u["username"]] = uid
    wanted = list(_items(data, "schedules"))
    for s in _items(data, "systems"):
        oid = org_named(str(s.get("org", "")))
        sid = db.session.scalar(select(CameraSystem.id).where(CameraSystem.org_id == oid,
                                                              CameraSystem.name == s.get("name")))
        if sid is None:
            fields = {k: s[k] for k in ("purpose", "site", "owner_unit", "authorisation_doc", "cameras",
                                        "security_level") if k in s}
            if "authorisation" in s:
                fields["authorisation_doc"] = s["authorisation"]
            sid = systems.create(db, oid, name=str(s.get("name", "")), ranges=s.get("ranges") or [], **fields)["id"]
        made["systems"][s["name"]] = sid
        if s.get("schedule"):
            wanted.append({"system_id": sid, "rrule": s["schedule"]})
    for sc in wanted:
        sid = sc.get("system_id") or made["systems"].get(sc.get("system")) or db.session.scalar(
            select(CameraSystem.id).where(CameraSystem.name == sc.get("system")))
        if sid is None:
            raise InputError(f"no system named {sc.get('system')!r}")
        rule = str(sc.get("rrule", "")).strip().removeprefix("RRULE:")
        same = db.session.scalar(select(Schedule.id).where(Schedule.system_id == sid, Schedule.rrule == rule))
        made["schedules"].append(same or schedules.create(db, sid, rrule=rule, options=sc.get("options"))["id"])
    return made


apply_yaml = apply  # the name the demo uses
