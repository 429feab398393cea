"""camaudit serve | worker | admin: the platform from the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

EXIT_FAILED = 1
EXIT_USAGE = 2


def _platform(db: str | None):
    from camaudit.store.db import StoreError
    from camaudit.store.platform import Platform

    try:
        return Platform(db)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--db", envvar="CAMAUDIT_DB", help="Database URL (default: SQLite in the user data dir).")
@click.option("--insecure-cookies", is_flag=True, help="Cookies without the Secure flag (plain http on loopback only).")
@click.option("--workers", type=int, default=1, show_default=True, help="Web processes (uvicorn).")
def serve(host: str, port: int, db: str | None, insecure_cookies: bool, workers: int) -> None:
    """Serve the web platform (pages and /api/v1).  Scans run in the in-process worker unless
    CAMAUDIT_BROKER names a Redis or RabbitMQ broker (then run `camaudit worker`)."""
    import uvicorn

    if db:
        os.environ["CAMAUDIT_DB"] = db
    if insecure_cookies:
        os.environ["CAMAUDIT_INSECURE_COOKIES"] = "1"
    _platform(db).close()  # migrate once, before the web processes start
    uvicorn.run("camaudit.web.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_level="info")


@click.command()
@click.option("--beat", is_flag=True, help="Also run the scheduler (one per deployment).")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Scans at once in this worker.")
@click.option("--name", default=None, help="Worker node name (default: camaudit@<host>).")
def worker(beat: bool, concurrency: int, name: str | None) -> None:
    """Run a Celery worker (CAMAUDIT_BROKER, CAMAUDIT_DB)."""
    if not os.environ.get("CAMAUDIT_BROKER"):
        click.echo("error: set CAMAUDIT_BROKER (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True)
        sys.exit(EXIT_USAGE)
    from camaudit.workers.celery_app import app

    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork", "-Q", "camaudit",
            "--without-gossip", "--without-mingle"]
    if name:
        argv.append(f"--hostname={name}")
    if beat:
        schedule = Path(os.environ.get("CAMAUDIT_HOME") or ".") / "celerybeat-schedule"
        argv += ["--beat", f"--schedule={schedule}"]
    app.worker_main(argv)


@click.group()
@click.option("--db", envvar="CAMAUDIT_DB", help="Database URL.")
@click.pass_context
def admin(ctx: click.Context, db: str | None) -> None:
    """Organisations, users, roles, tokens and the audit log."""
    ctx.obj = db


def _run(fn):  # InputError/NotFound → a clear message, exit 2
    from camaudit.store.access import InputError, NotFound

    try:
        return fn()
    except (InputError, NotFound) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@admin.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def admin_apply(db: str | None, file: str) -> None:
    """Create organisations, users (with grants), systems and schedules from a YAML file."""
    import yaml

    from camaudit.store import admin as admin_svc

    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        click.echo(f"error: {file}: not valid YAML: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    p = _platform(db)
    made = _run(lambda: admin_svc.apply(p, data, actor=f"cli:{os.environ.get('USER', '')}"))
    click.echo(f"organisations {len(set(made['organisations'].values()))}, users {len(made['users'])}, "
               f"systems {len(made['systems'])}, schedules {len(made['schedules'])}")


@admin.command("org")
@click.argument("name")
@click.option("--parent", type=int, help="Parent organisation id (none: a new root).")
@click.option("--kind", default="")
@click.option("--commune", default="")
@click.pass_obj
def admin_org(db: str | None, name: str, parent: int | None, kind: str, commune: str) -> None:
    """Create an organisation; prints its id."""
    from camaudit.store import orgs

    p = _platform(db)
    with p.system(f"cli:{os.environ.get('USER', '')}", "org:write") as s:
        o = _run(lambda: orgs.create(s, name=name, parent_id=parent, kind=kind, commune=commune))
    click.echo(o["id"])


@admin.command("user")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="")
@click.option("--grant", "grants", multiple=True, metavar="ROLE@ORG_ID", help="e.g. agency_head@4 (repeatable)")
@click.pass_obj
def admin_user(db: str | None, username: str, password: str, display_name: str, grants: tuple[str, ...]) -> None:
    """Create a user (and grant roles)."""
    from camaudit.store import users

    p = _platform(db)
    with p.system(f"cli:{os.environ.get('USER', '')}", "user:admin") as s:
        u = _run(lambda: users.create_user(s, username=username, password=password, display_name=display_name))
        for g in grants:
            role, _, org = g.partition("@")
            _run(lambda: users.grant(s, user_id=u["id"], org_id=org, role=role))
    click.echo(u["id"])


@admin.command("grant")
@click.argument("username")
@click.argument("role")
@click.argument("org_id", type=int)
@click.pass_obj
def admin_grant(db: str | None, username: str, role: str, org_id: int) -> None:
    """Give USERNAME the ROLE on organisation ORG_ID (and its subtree)."""
    from sqlalchemy import select

    from camaudit.store import users
    from camaudit.store.platform_models import User

    p = _platform(db)
    with p.system(f"cli:{os.environ.get('USER', '')}", "user:admin") as s:
        uid = s.session.scalar(select(User.id).where(User.username == username))
        if uid is None:
            click.echo(f"error: no user {username!r}", err=True)
            sys.exit(EXIT_USAGE)
        _run(lambda: users.grant(s, user_id=uid, org_id=org_id, role=role))


@admin.command("token")
@click.argument("username")
@click.option("--scope", "scopes", multiple=True, required=True, help="A permission (repeatable).")
@click.option("--name", default="cli")
@click.option("--days", type=int, default=365, show_default=True)
@click.pass_obj
def admin_token(db: str | None, username: str, scopes: tuple[str, ...], name: str, days: int) -> None:
    """Create an API token for USERNAME (printed once)."""
    from sqlalchemy import select

    from camaudit.store import users
    from camaudit.store.platform_models import User

    p = _platform(db)
    with p.sessions() as s:
        uid = s.scalar(select(User.id).where(User.username == username))
    who = users.principal(p, uid) if uid is not None else None
    if who is None:
        click.echo(f"error: no active user {username!r}", err=True)
        sys.exit(EXIT_USAGE)
    with p.scoped(who, "org:read") as s:
        t = _run(lambda: users.create_token(s, name=name, scopes=list(scopes), days=days))
    click.echo(t["token"])


@admin.group("audit")
def admin_audit() -> None:
    """The hash-chained audit log."""


@admin_audit.command("verify")
@click.pass_obj
def audit_verify(db: str | None) -> None:
    """Recompute the chain; exit 1 if any event was changed, removed or inserted."""
    p = _platform(db)
    v = p.verify_audit()
    if v.ok:
        click.echo(f"audit log intact: {v.events} events, head {v.head}")
        return
    click.echo(f"audit log BROKEN: {v.problem}", err=True)
    sys.exit(EXIT_FAILED)
