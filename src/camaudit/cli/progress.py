"""Rich progress for a scan: hosts swept, services probed, checks run, findings by severity."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

SEV_STYLE = {"critical": "bold magenta", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


class ScanProgress:
    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.enabled = enabled
        self.services = 0
        self.checks = 0
        self.up = 0
        self.findings = {s: 0 for s in SEV_STYLE}
        self._progress = Progress(
            TextColumn("[bold]hosts"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), console=console, transient=False, disable=not enabled,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> "ScanProgress":
        self._progress.__enter__()
        self._task = self._progress.add_task("scan", total=None, detail="")
        return self

    def __exit__(self, *exc) -> None:
        self._refresh()
        self._progress.__exit__(*exc)

    def _detail(self) -> str:
        sev = " ".join(f"[{SEV_STYLE[s]}]{s[0].upper()}:{n}[/]" for s, n in self.findings.items() if n)
        return f"up {self.up} · services {self.services} · checks {self.checks} · findings {sev or 0}"

    def _refresh(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, detail=self._detail())

    def event(self, name: str, **data: Any) -> None:
        if self._task is None:
            return
        if name == "start":
            self._progress.update(self._task, total=data["total"], completed=data.get("already", 0))
        elif name == "host_done":
            self.up += 1 if data.get("up") else 0
            self._progress.advance(self._task)
        elif name == "service_probed":
            self.services += 1
        elif name == "check_run":
            self.checks += 1
        elif name == "finding":
            self.findings[data["finding"].severity.value] += 1
        self._refresh()
