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
from camaudit.store.platform_models import CameraSystem, Organisation, User


def apply(platform: Platform, data: dict[str, Any], *, actor: str = "admin") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError("the file must hold a mapping (organisations, users, systems, schedules)")
    data = dict(data)
    made: dict[str, Any] = {"organisations": {}, "users": {}, "systems": {}, "schedules": []}

    def org_named(db: Any, name: str) -> int:
        if name in made["organisations"]:
            return int(made["organisations"][name])
        oid = db.session.scalar(select(Organisation.id).where(Organisation.name == name).order_by(Organisation.id))
        if oid is None:
            raise InputError(f"no organisation named {name!r}")
        return int(oid)

    def walk(items: Any, parent: int | None) -> None:
        for item in items or []:
            if not isinstance(item, dict) or not item.get("name"):
                raise InputError("each organisation needs a name")
            with platform.system(actor, "org:write") as db:
                oid = db.session.scalar(select(Organisation.id).where(Organisation.name == item["name"],
                                                                      Organisation.parent_id == parent))
                if oid is None:
                    oid = orgs.create(db, name=item["name"], parent_id=parent, kind=item.get("kind", ""),
                                      commune=item.get("commune", ""),
                                      max_running_scans=int(item.get("max_running_scans", 2)),
                                      max_rate=float(item.get("max_rate", 500.0)))["id"]
            made["organisations"][item["name"]] = oid
            if item.get("key"):
                made["organisations"][item["key"]] = oid
            walk(item.get("children"), oid)

    walk(data.get("organisations"), None)
    for u in data.get("users") or []:
        with platform.system(actor, "user:admin") as db:
            uid = db.session.scalar(select(User.id).where(User.username == u.get("username")))
            if uid is None:
                uid = users.create_user(db, username=u.get("username", ""), password=u.get("password"),
                                        display_name=u.get("display_name") or u.get("name", ""))["id"]
            grants = list(u.get("grants") or [])
            if u.get("role"):  # the short form: one role on one organisation
                grants.append({"role": u["role"], "org": u.get("org", "")})
            for g in grants:
                users.grant(db, user_id=uid, org_id=org_named(db, g.get("org", "")), role=g.get("role", ""))
        made["users"][u["username"]] = uid
    for s in data.get("systems") or []:
        with platform.system(actor, "system:write") as db:
            oid = org_named(db, s.get("org", ""))
            sid = db.session.scalar(select(CameraSystem.id).where(CameraSystem.org_id == oid,
                                                                  CameraSystem.name == s.get("name")))
            if sid is None:
                fields = {k: s[k] for k in ("purpose", "site", "owner_unit", "authorisation_doc", "cameras",
                                            "security_level") if k in s}
                if "authorisation" in s:
                    fields["authorisation_doc"] = s["authorisation"]
                sid = systems.create(db, oid, name=s.get("name", ""), ranges=s.get("ranges") or [], **fields)["id"]
        made["systems"][s["name"]] = sid
        if s.get("schedule"):
            data.setdefault("schedules", [])
            data["schedules"] = [*data["schedules"], {"system": s["name"], "rrule": s["schedule"]}]
    for sc in data.get("schedules") or []:
        with platform.system(actor, "scan:run") as db:
            sid = made["systems"].get(sc.get("system")) or db.session.scalar(
                select(CameraSystem.id).where(CameraSystem.name == sc.get("system")))
            if sid is None:
                raise InputError(f"no system named {sc.get('system')!r}")
            made["schedules"].append(schedules.create(db, sid, rrule=sc.get("rrule", ""),
                                                      options=sc.get("options"))["id"])
    return made


apply_yaml = apply  # the name the demo uses
