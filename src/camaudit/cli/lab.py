"""``camaudit lab up|down|status`` and ``camaudit demo``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from platformdirs import user_data_dir

from camaudit.cli.listing import emit, format_option



def default_state_dir() -> Path:
    home = os.environ.get("CAMAUDIT_HOME") or user_data_dir("camaudit", appauthor=False)
    return Path(home) / "lab"


@click.group()
def lab() -> None:
    """The lab of emulated cameras on loopback addresses (for demos, tests and benchmarks)."""


@lab.command("up")
@click.option("--fleet", default="default", show_default=True, help="'default', a fleet YAML file, or 'generated'.")
@click.option("--count", type=int, default=0, help="With --fleet generated: how many devices.")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None, help="Where the lab keeps its state.")
def lab_up(fleet, count, state_dir) -> None:
    """Start the lab in the background."""
    from camaudit.cli.main import err, fail
    from camaudit.lab import runner
    from camaudit.lab.fleet import generate_fleet, load_fleet

    state = Path(state_dir) if state_dir else default_state_dir()
    try:
        fl = generate_fleet(count or 250) if fleet == "generated" else load_fleet(fleet)
        runner.up(fl, state)
    except Exception as exc:  # the lab explains itself (addresses in use, bad fleet file)
        fail(f"lab: {exc}")
    err.print(f"lab up: {len(fl.devices)} devices, ground truth in {state / 'ground-truth.json'}")


@lab.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None)
def lab_down(state_dir) -> None:
    """Stop the lab."""
    from camaudit.cli.main import err, fail
    from camaudit.lab import runner

    try:
        runner.down(Path(state_dir) if state_dir else default_state_dir())
    except Exception as exc:
        fail(f"lab: {exc}")
    err.print("lab down")


@lab.command("status")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None)
@format_option
def lab_status(state_dir, fmt) -> None:
    """Show whether the lab runs, and its devices."""
    from camaudit.cli.main import err, out
    from camaudit.lab import runner

    state = Path(state_dir) if state_dir else default_state_dir()
    st = runner.status(state)
    if not st.get("running"):
        out.print("lab: not running")
        sys.exit(3)
    (err if fmt in ("json", "csv", "plain") or not out.is_terminal else out).print(
        f"lab: running (pid {st['pid']}), fleet {st.get('fleet')}, {st.get('devices')} devices, "
        f"{st.get('listeners')} listeners, since {st.get('started_at')}", soft_wrap=True)
    try:
        truth = json.loads((state / "ground-truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        truth = {}
    rows = [{"name": d.get("name", ""), "address": d.get("address", ""), "vendor": d.get("vendor") or "",
             "model": d.get("model") or "", "kind": d.get("kind") or "",
             "ports": ",".join(map(str, d.get("tcp_ports", []))), "planted": len(d.get("expected_findings", []))}
            for d in truth.get("devices", [])]
    emit(out, ["name", "address", "vendor", "model", "kind", "ports", "planted"], rows, fmt)


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True)
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--db", envvar="CAMAUDIT_DB")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="After the reports, serve the platform with a demo province on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def demo(out_dir, lang, db, serve, port) -> None:
    """Lab up, scan it, write reports (HTML, PDF, XLSX, JSON, CSV); then (unless --no-serve) serve
    the platform with a demo province on http://127.0.0.1:8080 until Ctrl-C; lab down."""
    import asyncio
    import tempfile

    from camaudit.cli.main import EXIT_FAILED, _write_reports, err, fail, open_store, out
    from camaudit.cli.progress import ScanProgress
    from camaudit.cli.summary import print_summary
    from camaudit.engine.api import run_scan
    from camaudit.engine.options import ScanOptions
    from camaudit.lab.fleet import load_fleet
    from camaudit.lab.runner import Lab
    from camaudit.scope import Scope

    fleet = load_fleet("default")
    store = open_store(db)
    network = "127.20.0.0/24"
    with tempfile.TemporaryDirectory(prefix="camaudit-lab-") as state:
        try:
            lab_ctx = Lab(fleet, Path(state))
            lab_ctx.start()
        except Exception as exc:
            fail(f"lab: {exc}", EXIT_FAILED)
        try:
            err.print(f"lab up: {len(fleet.devices)} emulated devices on {network}")
            progress = ScanProgress(err)
            with progress:
                scan_id = asyncio.run(run_scan([network], ScanOptions(operator="demo"), store,
                                               scope=Scope.parse([network]), progress=progress.event))
            from camaudit.reports.document import build

            doc = build(store, scan_id, profile="all", lang=lang, system=f"Lab ({network})")
            print_summary(out, doc, lang)
            base = Path(out_dir) / "demo"
            _write_reports(doc, [f"{base}.{ext}" for ext in ("html", "pdf", "xlsx", "json", "csv")], lang)
            if serve:  # the lab stays up while the platform serves, so its scans find the devices
                from camaudit.web.demo import serve as serve_platform

                serve_platform(Path(out_dir), port=port, console=err)
        finally:
            lab_ctx.stop()
            err.print("lab down")
