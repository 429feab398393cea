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
import sys

import click
from rich.console import Console

from camaudit import __version__
from camaudit.compliance.profiles import PROFILE_CHOICES, PROFILE_HELP, as_of_option

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
DEFAULT_DENIED = ("0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "ff00::/8", "::/128")

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    err.print(f"[bold red]camaudit: error:[/] {message}", markup=True, soft_wrap=True)
    sys.exit(code)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@click.option("--allow", "allow", multiple=True, help="Allowed scope (CIDR); repeatable. Also CAMAUDIT_ALLOW.")
@click.option("--deny", "deny", multiple=True, help="Networks never to touch (CIDR); repeatable.")
@click.option("--timeout", type=float, default=4.0, show_default=True, help="Deadline of one exchange with a device (s).")
@click.option("--connect-timeout", type=float, default=1.5, show_default=True, help="TCP connect deadline (s).")
@click.option("--concurrency", type=int, default=512, show_default=True, help="Connections in flight, all hosts.")
@click.option("--host-concurrency", type=int, default=4, show_default=True, help="Connections in flight to one host.")
@click.option("--hosts", "host_parallelism", type=int, default=64, show_default=True, help="Hosts assessed at once.")
@click.option("--rate", type=float, default=0.0, help="New connections per second, all hosts (0: no limit).")
@click.option("--host-rate", type=float, default=0.0, help="New connections per second to one host (0: no limit).")
@click.option("--check", "checks", multiple=True, help="Run only this check (repeatable); see `camaudit checks`.")
@click.option("--intrusive", multiple=True, help="Turn on an intrusive check by name (repeatable).")
@click.option("--all-hosts", is_flag=True, help="Assess every host, not only those identified as video devices.")
@click.option("--discovery-only", is_flag=True, help="Sweep and identify; run no check.")
@click.option("--no-udp", is_flag=True, help="Skip the SNMP, SSDP and WS-Discovery probes.")
@click.option("--login-spacing", type=float, default=0.0, help="Seconds between two login attempts on one service.")
@click.option("--operator", default=lambda: os.environ.get("CAMAUDIT_OPERATOR") or os.environ.get("USER", ""),
              help="Who runs the scan (recorded).")
@click.option("--organisation", envvar="CAMAUDIT_ORGANISATION", default="",
              help="The agency that owns the system scanned (report cover).")
@click.option("--db", envvar="CAMAUDIT_DB", help="Inventory database URL (default: SQLite in the user data dir).")
@click.option("--resume", "resume", help="Resume an interrupted scan by id (or 'last').")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
def scan(targets, ports, add_ports, reports, lang, profile, as_of, system_name, fail_on, allow, deny, timeout, connect_timeout, concurrency,
         host_concurrency, host_parallelism, rate, host_rate, checks, intrusive, all_hosts, discovery_only, no_udp,
         login_spacing, operator, organisation, db, resume, quiet) -> None:
    """Scan TARGETS: addresses, CIDR blocks, ranges (a-b), host names, or files of them (@file)."""
    from camaudit.engine.api import run_scan
    from camaudit.engine.options import DEFAULT_PORTS, ScanOptions
    from camaudit.knowledge import KnowledgeError
    from camaudit.model import Severity
    from camaudit.reports import ReportError, format_of
    from camaudit.scope import Scope, ScopeError, TargetError
    from camaudit.store.db import StoreError

    if not targets and not resume:
        fail("no targets given (e.g. camaudit scan 192.0.2.0/24)")
    threshold = None
    if fail_on.lower() != "none":
        try:
            threshold = Severity.parse(fail_on)
        except ValueError as exc:
            fail(f"--fail-on: {exc}")
    try:
        for path in reports:
            format_of(path)
        port_list = parse_ports(ports) or DEFAULT_PORTS
        extra = parse_ports(add_ports) or ()
        port_list = tuple(sorted(set(port_list) | set(extra)))
        env_allow = [a for a in os.environ.get("CAMAUDIT_ALLOW", "").split(",") if a.strip()]
        scope = Scope.parse(list(allow) + env_allow, list(deny) + list(DEFAULT_DENIED))
    except (ReportError, TargetError, click.BadParameter) as exc:
        fail(str(exc.format_message() if isinstance(exc, click.BadParameter) else exc))
    for name, value in (("timeout", timeout), ("connect-timeout", connect_timeout)):
        if value <= 0:
            fail(f"--{name} must be positive")
    for name, value in (("concurrency", concurrency), ("host-concurrency", host_concurrency), ("hosts", host_parallelism)):
        if value < 1:
            fail(f"--{name} must be at least 1")

    options = ScanOptions(ports=port_list, udp=not no_udp, timeout=timeout, connect_timeout=connect_timeout,
                          concurrency=concurrency, host_concurrency=host_concurrency, rate=rate, host_rate=host_rate,
                          host_parallelism=host_parallelism, checks=tuple(checks) or None,
                          intrusive=tuple(intrusive), login_spacing=login_spacing, discovery_only=discovery_only,
                          all_hosts=all_hosts, operator=operator, organisation=organisation)
    store = open_store(db)
    if resume:
        try:
            resume = store.resolve_scan_id(resume)
        except StoreError as exc:
            fail(str(exc))
    from camaudit.cli.progress import ScanProgress

    progress = ScanProgress(err, enabled=not quiet)
    try:
        with progress:
            scan_id = asyncio.run(run_scan(list(targets), options, store, scope=scope, progress=progress.event,
                                           resume=resume))
    except KnowledgeError as exc:
        fail(str(exc), EXIT_FAILED)
    except (TargetError, ScopeError, ValueError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: resume with [bold]camaudit scan --resume last[/]")
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


def _write_reports(doc: dict, reports, lang: str) -> None:
    from camaudit.engine.api import knowledge
    from camaudit.reports import ReportError, write_report

    if not reports:
        return
    kb, _ = knowledge()
    for path in reports:
        try:
            written = write_report(doc, path, lang=lang, kb=kb)
        except ReportError as exc:
            fail(str(exc), EXIT_FAILED)
        err.print(f"report written: [bold]{written}[/]")


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
    from camaudit.reports import ReportError, format_of
    from camaudit.store.db import StoreError

    try:
        for path in reports:
            format_of(path)
    except ReportError as exc:
        fail(str(exc))
    from camaudit.reports.document import build

    store = open_store(db)
    try:
        base = store.resolve_scan_id(diff_from) if diff_from else None
        doc = build(store, store.resolve_scan_id(scan_id), profile=profile, lang=lang, system=system_name,
                    diff_from=base, as_of=as_of)
    except StoreError as exc:
        fail(str(exc))
    _write_reports(doc, reports, lang)


@main.command("scans")
@click.option("--db", envvar="CAMAUDIT_DB")
def scans_cmd(db) -> None:
    """List the scans in the inventory, newest first."""
    from rich.table import Table

    store = open_store(db)
    table = Table("id", "started", "status", "operator", "targets", "up/done/total", "findings")
    for s in store.list_scans():
        counts = store.finding_counts(s.id)
        table.add_row(s.id[:8], str(s.started_at)[:19], s.status, s.operator, " ".join(s.targets)[:40],
                      f"{s.hosts_up}/{s.hosts_done}/{s.hosts_total}", str(sum(counts.values())))
    out.print(table)


@main.command("devices")
@click.option("--db", envvar="CAMAUDIT_DB")
def devices_cmd(db) -> None:
    """List the device inventory."""
    from rich.table import Table

    store = open_store(db)
    table = Table("address", "kind", "vendor", "model", "firmware", "serial", "mac", "last seen")
    for d in store.list_devices():
        table.add_row(d.address, d.kind, d.vendor or "", d.model or "", d.firmware or "", d.serial or "",
                      d.mac or "", str(d.last_seen)[:19])
    out.print(table)


@main.command("checks")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
def checks_cmd(lang) -> None:
    """List the checks: id, severity, phase, intrusive, login budget, clauses."""
    from rich.table import Table

    import camaudit.checks  # noqa: F401
    from camaudit.checks.base import REGISTRY
    from camaudit.engine.api import knowledge
    from camaudit.reports import check_text

    kb, _ = knowledge()
    table = Table("id", "severity", "phase", "intrusive", "login budget", "title", "clauses")
    for cid, c in sorted(REGISTRY.items()):
        m = c.meta
        table.add_row(cid, m.severity.value, m.phase, "yes" if m.intrusive else "no", str(m.login_budget),
                      check_text(kb, cid, lang)[0], ", ".join(m.clauses))
    out.print(table)


from camaudit.cli.compliance import assess, attest, diff  # noqa: E402
from camaudit.cli.kb import kb  # noqa: E402
from camaudit.cli.lab import demo, lab  # noqa: E402
from camaudit.cli.platform import admin, serve, worker  # noqa: E402

for _command in (lab, demo, assess, attest, diff, kb, serve, worker, admin):
    main.add_command(_command)


if __name__ == "__main__":
    main()
