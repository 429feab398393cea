"""``camaudit kb update|status|reset``: offline knowledge updates from NVD and CISA KEV files."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.text import Text

MiB = 1024 * 1024
DEFAULT_MAX_FEED_MIB = 1024  # one NVD JSON file; the feed readers are imported only when used


@click.group()
def kb() -> None:
    """Knowledge base: import NVD CVE JSON 2.0 and CISA KEV files brought in offline."""


@kb.command("update")
@click.option("--cve-feed", "cve_feeds", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="NVD CVE JSON 2.0 file (yearly feed or API response; .json, .gz or .zip). Repeatable.")
@click.option("--kev", type=click.Path(dir_okay=False, path_type=Path),
              help="CISA known_exploited_vulnerabilities.csv.")
@click.option("--replace", is_flag=True, help="Start from the packaged knowledge instead of merging "
              "with earlier imports.")
@click.option("--max-feed-mib", type=click.IntRange(1, 16 * 1024), default=DEFAULT_MAX_FEED_MIB,
              show_default=True, help="Refuse an NVD file larger than this (after decompression).")
def update_cmd(cve_feeds: tuple[Path, ...], kev: Path | None, replace: bool, max_feed_mib: int) -> None:
    """Import feeds into the knowledge overlay; a bad file changes nothing."""
    from camaudit.cli.main import EXIT_FAILED, err, fail, out
    from camaudit.knowledge import KnowledgeError
    from camaudit.knowledge.feeds import FeedError
    from camaudit.knowledge.update import UpdateError, import_feeds

    if not cve_feeds and kev is None:
        fail("give at least one --cve-feed FILE or --kev FILE")
    try:
        summary = import_feeds(cve_feeds, kev, replace=replace, max_feed_bytes=max_feed_mib * MiB)
    except FeedError as exc:
        fail(str(exc))
    except (KnowledgeError, UpdateError) as exc:
        fail(str(exc).replace("\n", "; "), EXIT_FAILED)
    for r in summary.nvd:
        vendors = ", ".join(f"{k} {n}" for k, n in sorted(r.by_vendor.items())) or "none"
        out.print(f"NVD {r.name}: {r.read} CVEs read, {len(r.vulns)} camera CVEs kept "
                  f"({vendors})", soft_wrap=True)
    if summary.kev is not None:
        out.print(f"KEV {summary.kev.name}: {len(summary.kev.entries)} entries, newest added "
                  f"{summary.kev.newest}", soft_wrap=True)
    for reason, n in sorted(summary.skipped.items()):
        err.print(Text.assemble(("warning:", "yellow"), f" skipped {n} × {reason}"), soft_wrap=True)
    out.print(f"knowledge overlay: {summary.cves_total} imported CVEs, {summary.kev_total} KEV entries "
              f"in {str(summary.directory)}", soft_wrap=True)
    out.print(f"knowledge version: {summary.version_before} -> {summary.version_after}", soft_wrap=True)


@kb.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(as_json: bool) -> None:
    """Knowledge version, imported sources, counts and age."""
    from camaudit.cli.main import EXIT_FAILED, err, fail, out
    from camaudit.knowledge import KnowledgeError
    from camaudit.knowledge.update import status

    try:
        st = status()
    except KnowledgeError as exc:
        fail(str(exc).replace("\n", "; "), EXIT_FAILED)
    if as_json:
        click.echo(json.dumps(st, indent=2, ensure_ascii=False))
    else:
        out.print(f"knowledge version: {st['version']}  (packaged {st['packaged_version']}, "
                  f"vulns.yaml {st['vulns_yaml_version']})", soft_wrap=True)
        out.print(f"CVEs: {st['cves']} ({st['cves_packaged']} packaged, {st['cves_imported']} imported"
                  f"{', ' + ', '.join(f'{k} {n}' for k, n in st['by_vendor'].items()) if st['by_vendor'] else ''}); "
                  f"known exploited: {st['kev_cves']}; KEV entries: {st['kev_entries']}", soft_wrap=True)
        if st["updated"]:
            out.print(f"overlay: {st['directory']}, updated {st['updated']}", soft_wrap=True)
            ages = ", ".join(f"{k.upper()} {d} days" for k, d in st["age_days"].items())
            if ages:
                out.print(f"age: {ages}", soft_wrap=True)
            for s in st["sources"]:
                out.print(f"  {s['kind']}  {s['name']}  sha256 {s['sha256'][:16]}  "
                          f"data as of {s['as_of'] or '?'}  imported {s['imported']}  "
                          f"read {s['read']}, kept {s['kept']}", soft_wrap=True)
    for w in st["warnings"]:
        err.print(Text.assemble(("warning:", "yellow"), f" {w}"), soft_wrap=True)


@kb.command("reset")
@click.option("--yes", is_flag=True, help="Do it without asking.")
def reset_cmd(yes: bool) -> None:
    """Drop every import and go back to the packaged knowledge."""
    from camaudit.cli.main import EXIT_FAILED, fail, out
    from camaudit.knowledge.update import UpdateError, knowledge_home, reset

    if not yes and not click.confirm(f"Drop the knowledge overlay in {knowledge_home()}?"):
        return
    try:
        dropped = reset()
    except UpdateError as exc:
        fail(str(exc), EXIT_FAILED)
    out.print("knowledge overlay dropped" if dropped else "no knowledge overlay to drop", soft_wrap=True)
