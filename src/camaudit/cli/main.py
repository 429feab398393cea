"""The ``camaudit`` command line.

Exit codes (documented in the README):
  0  the scan finished with no finding at or above --fail-on
  1  the scan finished with findings at or above --fail-on
  2  usage error: a malformed target, an address outside the scope, an unreadable file, a bad option
  3  the scan could not run or finish (store unreachable, interrupted: resume with --resume ID)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from camaudit import __version__
from camaudit.cli import options as opt
from camaudit.cli.listing import cell, emit, format_option
from camaudit.compliance.profiles import PROFILE_CHOICES, PROFILE_HELP, as_of_option

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

# Markup is off on both consoles: whatever a device sent (a Manufacturer of "[/bold]", a
# "[link=...]") is printed as the text it is.  Styled output is built from rich.text.Text.
err = Console(stderr=True, highlight=False, markup=False, emoji=False)
out = Console(highlight=False, markup=False, emoji=False)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    err.print(Text.assemble(("camaudit: error: ", "bold red"), cell(" ".join(str(message).split()))),
              soft_wrap=True)
    sys.exit(code)


class _Group(click.Group):
    """Usage errors (a bad option value, a missing argument) as one line and exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            fail(exc.format_message() + where)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.exceptions.Abort:
            err.print("aborted")
            sys.exit(EXIT_FAILED)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def parse_ports(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    ports: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if a > b:
                    raise ValueError
                ports.update(range(a, b + 1))
            else:
                ports.add(int(part))
        except ValueError:
            raise click.BadParameter(f"not a port or port range: {part!r}") from None
    if not ports or min(ports) < 1 or max(ports) > 65535:
        raise click.BadParameter("ports must be between 1 and 65535")
    return tuple(sorted(ports))


def open_store(db: str | None):
    from camaudit.store import Store
    from camaudit.store.db import StoreError

    try:
        return Store(db)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)


class _Main(_Group):
    """The command group: usage errors exit 2 (``_Group``); a store failure anywhere below ends as one line and exit 3 (the
    store maps every database, driver and disk error to StoreError; a bad id is NotFound: 2)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RuntimeError as exc:
            db = sys.modules.get("camaudit.store.db")
            if db is None or not isinstance(exc, db.StoreError):
                raise
            fail(str(exc), EXIT_USAGE if isinstance(exc, db.NotFound) else EXIT_FAILED)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="camaudit")
def main() -> None:
    """camaudit — find, identify and assess surveillance cameras, NVRs and DVRs."""


# -- scan ---------------------------------------------------------------------------------

@main.command()
@click.argument("targets", nargs=-1)
@click.option("-p", "--ports", help="TCP ports to sweep, e.g. 80,443,554,8000-8100 (default: camera ports).")
@click.option("--add-ports", help="Extra TCP ports on top of the default camera ports.")
@click.option("-r", "--report", "reports", multiple=True, type=click.Path(dir_okay=False),
              help="Write a report; format from the extension (.html .pdf .xlsx .json .csv). Repeatable.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Report language.")
@click.option("--profile", type=click.Choice(PROFILE_CHOICES), default="auto", show_default=True, help=PROFILE_HELP)
@as_of_option
@click.option("--system", "system_name", help="Name of the information system scanned (shown in reports).")
@click.option("--fail-on", default="low", show_default=True,
              help="Exit 1 when a finding at or above this severity exists (critical|high|medium|low|info|none).")
@click.option("--allow", "allow", multiple=True, callback=opt.scope_values,
              help="Allowed scope (CIDR); repeatable. Also CAMAUDIT_ALLOW.")
@click.option("--deny", "deny", multiple=True, callback=opt.scope_values,
              help="Networks never to touch (CIDR); repeatable.")
@click.option("--no-resolve", is_flag=True, help="Do not look host names up in DNS: addresses only.")
@click.option("--timeout", type=opt.TIMEOUT, default=4.0, show_default=True,
              help="Deadline of one exchange with a device (s).")
@click.option("--connect-timeout", type=opt.CONNECT_TIMEOUT, default=1.5, show_default=True,
              help="TCP connect deadline (s).")
@click.option("--concurrency", type=opt.CONCURRENCY, default=512, show_default=True,
              help="Connections in flight, all hosts.")
@click.option("--host-concurrency", type=opt.HOST_CONCURRENCY, default=4, show_default=True,
              help="Connections in flight to one host.")
@click.option("--hosts", "host_parallelism", type=opt.HOSTS, default=64, show_default=True,
              help="Hosts assessed at once.")
@click.option("--rate", type=opt.RATE, default=0.0, help="New connections per second, all hosts (0: no limit).")
@click.option("--host-rate", type=opt.RATE, default=0.0, help="New connections per second to one host (0: no limit).")
@click.option("--check", "checks", multiple=True, help="Run only this check (repeatable); see `camaudit checks`.")
@click.option("--intrusive", multiple=True, help="Turn on an intrusive check by name (repeatable).")
@click.option("--all-hosts", is_flag=True,
              help="Every check on every host, even one identified as a router, printer or NAS.")
@click.option("--video-only", is_flag=True,
              help="Assess only hosts identified as camera / NVR / DVR (by default every host that answers is).")
@click.option("--discovery-only", is_flag=True, help="Sweep and identify; run no check.")
@click.option("--no-udp", is_flag=True, help="Skip the SNMP, SSDP and WS-Discovery probes.")
@click.option("--login-spacing", type=opt.SPACING, default=0.0, help="Seconds between two login attempts on one service.")
@click.option("--operator", default=lambda: os.environ.get("CAMAUDIT_OPERATOR") or os.environ.get("USER", ""),
              help="Who runs the scan (recorded).")
@click.option("--organisation", envvar="CAMAUDIT_ORGANISATION", default="",
              help="The agency that owns the system scanned (report cover).")
@click.option("--db", envvar="CAMAUDIT_DB", help="Inventory database URL (default: SQLite in the user data dir).")
@click.option("--resume", "resume", help="Resume an interrupted scan by id (or 'last').")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def scan(targets, ports, add_ports, reports, lang, profile, as_of, system_name, fail_on, allow, deny, no_resolve,
         timeout, connect_timeout, concurrency,
         host_concurrency, host_parallelism, rate, host_rate, checks, intrusive, all_hosts, video_only, discovery_only,
         no_udp,
         login_spacing, operator, organisation, db, resume, quiet) -> None:
    """Scan TARGETS: addresses, CIDR blocks, ranges (a-b), host names, or files of them (@file)."""
    from camaudit.engine.api import run_scan
    from camaudit.engine.options import DEFAULT_PORTS, ScanOptions
    from camaudit.knowledge import KnowledgeError
    from camaudit.model import Severity
    from camaudit.reports import ReportError
    from camaudit.scope import Scope, ScopeError, TargetError
    from camaudit.store.db import NotFound, StoreError

    if not targets and not resume:
        fail("no targets given (e.g. camaudit scan 192.0.2.0/24)")
    threshold = None
    if fail_on.lower() != "none":
        try:
            threshold = Severity.parse(fail_on)
        except ValueError as exc:
            fail(f"--fail-on: {exc}")
    check_reports(reports)
    try:
        port_list = parse_ports(ports) or DEFAULT_PORTS
        extra = parse_ports(add_ports) or ()
        port_list = tuple(sorted(set(port_list) | set(extra)))
        env_allow = opt.env_allow()
        scope = Scope.parse(list(allow) + env_allow, list(deny))  # built-in refusals: in the guard
    except (ReportError, TargetError, click.BadParameter) as exc:
        fail(str(exc.format_message() if isinstance(exc, click.BadParameter) else exc))
    if all_hosts and video_only:
        fail("--all-hosts and --video-only contradict each other: choose one")

    options = ScanOptions(ports=port_list, udp=not no_udp, timeout=timeout, connect_timeout=connect_timeout,
                          concurrency=concurrency, host_concurrency=host_concurrency, rate=rate, host_rate=host_rate,
                          host_parallelism=host_parallelism, checks=tuple(checks) or None,
                          intrusive=tuple(intrusive), login_spacing=login_spacing, discovery_only=discovery_only,
                          all_hosts=all_hosts, video_only=video_only, operator=operator, organisation=organisation,
                          resolve=not no_resolve)
    store = open_store(db)
    if resume:
        try:
            resume = store.resolve_scan_id(resume)
            record = store.get_scan(resume)
            recorded = list(record.targets)
        except NotFound as exc:
            fail(str(exc))
        if targets and list(targets) != recorded:  # a resumed scan scans what it was started on
            fail(f"--resume {resume[:8]} continues the scan of {' '.join(recorded)[:200]}; it takes no other "
                 f"targets (given: {' '.join(targets)[:200]}): drop them, or start a new scan")
    from camaudit.cli.progress import ScanProgress

    progress = ScanProgress(err, enabled=not quiet)
    try:
        platform_scan = False
        if resume:
            from camaudit.workers.jobs import is_platform_scan

            platform_scan = is_platform_scan(record)
        if platform_scan:
            if allow or deny:
                fail(f"scan {resume[:8]} is a scan of a registered camera system: it is bound by the system's "
                     "authorised ranges, not by --allow/--deny; drop them")
            scan_id = _resume_platform_scan(store, resume, progress)
        else:
            with progress:
                scan_id = asyncio.run(_stoppable(run_scan(list(targets), options, store, scope=scope,
                                                          progress=progress.event, resume=resume)))
    except KnowledgeError as exc:
        fail(str(exc), EXIT_FAILED)
    except (TargetError, ScopeError, ValueError) as exc:
        fail(str(exc))
    except (KeyboardInterrupt, asyncio.CancelledError):
        for sig in (signal.SIGINT, signal.SIGTERM):  # a further Ctrl-C must not cut the exit short
            signal.signal(sig, signal.SIG_IGN)
        err.print(Text.assemble(("interrupted", "yellow"), ": resume with ",
                                ("camaudit scan --resume last", "bold")))
        sys.exit(EXIT_FAILED)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)

    from camaudit.cli.summary import print_summary
    from camaudit.reports.document import build

    doc = build(store, scan_id, profile=profile, lang=lang, system=system_name, as_of=as_of)
    print_summary(out, doc, lang)
    _write_reports(doc, reports, lang)
    if threshold is not None and any(
        Severity(f["severity"]).rank >= threshold.rank for d in doc["devices"] for f in d["findings"]
    ):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_OK)


def _resume_platform_scan(store, scan_id: str, progress) -> str:
    """Resume a scan the platform queued, exactly as one of its workers runs it (workers/jobs.py
    ``execute_scan``): claimed under the platform's lease conditions (not while a live worker
    holds it, not beyond its organisation's running scans), bound by its camera system's
    authorised ranges and its organisation's rate, its findings applied when it ends."""
    from camaudit.store.platform import Platform
    from camaudit.workers import jobs

    platform = Platform(store.url, migrate=False)
    try:
        jobs.bind(platform, scan_id)  # refused here, nothing changed, when the ranges no longer cover it
        busy: list[str] = []
        with progress:
            outcome = jobs.execute_scan(platform, scan_id, progress=progress.event, around=_stoppable, busy=busy)
        if outcome == "skipped":
            fail(busy[0] if busy else f"scan {scan_id[:8]} cannot be resumed now", EXIT_FAILED)
        if outcome == "failed":
            fail(f"scan {scan_id[:8]} failed: {platform.store.get_scan(scan_id).error}", EXIT_FAILED)
        if outcome == "interrupted":
            raise KeyboardInterrupt
    finally:
        platform.close()
    return scan_id


def check_reports(reports) -> None:
    """Refuse, before any packet is sent, a report that could not be written (exit 2)."""
    from camaudit.reports import ReportError, check_report_path

    try:
        for path in reports:
            check_report_path(path)
    except ReportError as exc:
        fail(str(exc))


async def _stoppable(coro: Any) -> Any:
    """Run the scan so that Ctrl-C and SIGTERM (a service manager, ``kill``, a CI timeout) stop
    it the same way: the first cancels it (workers stop, the scan is recorded "interrupted" and
    can be resumed); a second one only says so.  The signals are handled by the event loop, so no
    KeyboardInterrupt lands in the middle of a task, an import or the status write."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if len(received) == 1 and task is not None:
            task.cancel()
        elif len(received) == 2:
            err.print("stopping: finishing the record of the hosts done (resumable)")

    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, not Unix
            pass
    try:
        return await coro
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def _write_reports(doc: dict, reports, lang: str) -> None:
    """Write every report; one that fails does not stop the others.  Any failure: each one
    named, then exit 3."""
    from camaudit.engine.api import knowledge
    from camaudit.reports import ReportError, write_report

    if not reports:
        return
    kb, _ = knowledge()
    failed = []
    for path in reports:
        try:
            written = write_report(doc, path, lang=lang, kb=kb)
        except ReportError as exc:
            failed.append(str(exc))
            continue
        except MemoryError:
            failed.append(f"{path}: cannot write report: out of memory")
            continue
        err.print(Text.assemble("report written: ", (str(written), "bold")))
    for message in failed:
        err.print(Text.assemble(("camaudit: error:", "bold red"), " ", message), soft_wrap=True)
    if failed:
        sys.exit(EXIT_FAILED)


# -- history and inventory ------------------------------------------------------------------

@main.command()
@click.argument("scan_id", default="last")
@click.option("-r", "--report", "reports", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Report file(s) to write (.html .pdf .xlsx .json .csv).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--profile", type=click.Choice(PROFILE_CHOICES), default="auto", show_default=True, help=PROFILE_HELP)
@as_of_option
@click.option("--system", "system_name", help="Name of the information system (shown in reports).")
@click.option("--diff-from", help="Compare with this earlier scan (id, prefix).")
@click.option("--db", envvar="CAMAUDIT_DB")
def report(scan_id, reports, lang, profile, as_of, system_name, diff_from, db) -> None:
    """Write reports of a stored scan (default: the last one)."""
    from camaudit.store.db import NotFound

    check_reports(reports)
    from camaudit.reports.document import build

    store = open_store(db)
    try:
        base = store.resolve_scan_id(diff_from) if diff_from else None
        doc = build(store, store.resolve_scan_id(scan_id), profile=profile, lang=lang, system=system_name,
                    diff_from=base, as_of=as_of)
    except NotFound as exc:
        fail(str(exc))
    _write_reports(doc, reports, lang)


@main.command("scans")
@click.option("--db", envvar="CAMAUDIT_DB")
@format_option
def scans_cmd(db, fmt) -> None:
    """List the scans in the inventory, newest first."""
    store = open_store(db)
    rows = []
    for s in store.list_scans():
        counts = store.finding_counts(s.id)
        rows.append({"id": s.id, "started": str(s.started_at)[:19], "status": s.status, "operator": s.operator,
                     "targets": list(s.targets), "up/done/total": f"{s.hosts_up}/{s.hosts_done}/{s.hosts_total}",
                     "findings": sum(counts.values())})
    emit(out, ["id", "started", "status", "operator", "targets", "up/done/total", "findings"], rows, fmt,
         short={"id": 8, "targets": 40})


@main.command("devices")
@click.option("--db", envvar="CAMAUDIT_DB")
@format_option
def devices_cmd(db, fmt) -> None:
    """List the device inventory."""
    store = open_store(db)
    rows = [{"address": d.address, "kind": d.kind, "vendor": d.vendor or "", "model": d.model or "",
             "firmware": d.firmware or "", "serial": d.serial or "", "mac": d.mac or "",
             "last seen": str(d.last_seen)[:19]} for d in store.list_devices()]
    emit(out, ["address", "kind", "vendor", "model", "firmware", "serial", "mac", "last seen"], rows, fmt)


@main.command("checks")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@format_option
def checks_cmd(lang, fmt) -> None:
    """List the checks: id, severity, phase, intrusive, login budget, clauses."""
    import camaudit.checks  # noqa: F401
    from camaudit.checks.base import REGISTRY
    from camaudit.engine.api import knowledge
    from camaudit.reports import check_text

    kb, _ = knowledge()
    rows = []
    for cid, c in sorted(REGISTRY.items()):
        m = c.meta
        rows.append({"id": cid, "severity": m.severity.value, "phase": m.phase,
                     "intrusive": "yes" if m.intrusive else "no", "login budget": m.login_budget,
                     "title": check_text(kb, cid, lang)[0], "clauses": list(m.clauses)})
    emit(out, ["id", "severity", "phase", "intrusive", "login budget", "title", "clauses"], rows, fmt)


from camaudit.cli.compliance import assess, attest, diff  # noqa: E402
from camaudit.cli.kb import kb  # noqa: E402
from camaudit.cli.lab import demo, lab  # noqa: E402
from camaudit.cli.platform import admin, serve, worker  # noqa: E402

for _command in (lab, demo, assess, attest, diff, kb, serve, worker, admin):
    main.add_command(_command)


if __name__ == "__main__":
    main()
