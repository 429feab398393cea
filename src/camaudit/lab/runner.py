"""Start and stop the lab process, read its state.

``Lab`` runs the lab as a child of the caller (tests, benchmark); ``up``/``down``/``status``
run it detached with a pid file, for the CLI.  The state directory holds: fleet.json (what was
started), ground-truth.json, ready.json (present while serving), attempts.json (login attempts
per device and protocol), error.json (why a start failed), lab.log and lab.pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from camaudit.lab.fleet import Fleet, load_fleet

START_TIMEOUT = 120.0


class LabError(RuntimeError):
    pass


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _is_lab_process(pid: int) -> bool:
    """True when ``pid`` is alive and is a camaudit lab server (never signal anything else)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"camaudit.lab.server" in cmd


def read_attempts(state_dir: str | Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Login attempts seen by the lab: {address: {protocol: {attempts, success, failure,
    locked, users: {name: n}}}}."""
    data = _read_json(Path(state_dir) / "attempts.json") or {}
    return data.get("devices", {})


class Lab:
    """The lab as a child process: ``with Lab("default", tmpdir) as lab: ...``."""

    def __init__(self, fleet: Fleet | str | Path = "default", state_dir: str | Path | None = None) -> None:
        self.fleet = fleet if isinstance(fleet, Fleet) else load_fleet(fleet)
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="camaudit-lab-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = START_TIMEOUT, *, detached: bool = False) -> dict[str, Any]:
        """Spawn the lab and wait until every listener is bound; returns ready.json."""
        sd = self.state_dir
        sd.mkdir(parents=True, exist_ok=True)
        running = status(sd)
        if running["running"]:
            raise LabError(f"a lab is already running from {sd} (pid {running['pid']}); stop it first")
        for name in ("ready.json", "error.json", "attempts.json", "ground-truth.json"):
            (sd / name).unlink(missing_ok=True)
        fleet_file = sd / "fleet.json"
        fleet_file.write_text(self.fleet.model_dump_json(indent=1), "utf-8")
        with open(sd / "lab.log", "ab") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "camaudit.lab.server", "--fleet", str(fleet_file),
                 "--state-dir", str(sd)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=detached)
        (sd / "lab.pid").write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = _read_json(sd / "ready.json")
            if ready and ready.get("pid") == self.proc.pid:
                return ready
            if self.proc.poll() is not None:
                err = _read_json(sd / "error.json") or {}
                (sd / "lab.pid").unlink(missing_ok=True)
                tail = (sd / "lab.log").read_text("utf-8", "replace")[-2000:]
                raise LabError(err.get("error") or f"lab exited with code {self.proc.returncode}: {tail}")
            time.sleep(0.05)
        self.stop()
        raise LabError(f"lab not ready after {timeout:.0f} s (see {sd / 'lab.log'})")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        (self.state_dir / "lab.pid").unlink(missing_ok=True)
        (self.state_dir / "ready.json").unlink(missing_ok=True)
        self.proc = None

    def status(self) -> dict[str, Any]:
        return status(self.state_dir)

    def attempts(self) -> dict[str, dict[str, dict[str, Any]]]:
        return read_attempts(self.state_dir)

    def ground_truth(self) -> dict[str, Any]:
        gt = _read_json(self.state_dir / "ground-truth.json")
        if gt is None:
            raise LabError("no ground truth: the lab has not started")
        return gt

    def __enter__(self) -> "Lab":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def up(fleet: Fleet | str | Path, state_dir: str | Path, timeout: float = START_TIMEOUT) -> dict[str, Any]:
    """Start a detached lab that outlives the caller; returns ready.json (pid, devices...)."""
    return Lab(fleet, state_dir).start(timeout, detached=True)


def down(state_dir: str | Path, timeout: float = 10.0) -> bool:
    """Stop the lab started with ``up``; False when none was running."""
    sd = Path(state_dir)
    st = status(sd)
    if not st["running"]:
        (sd / "lab.pid").unlink(missing_ok=True)
        return False
    pid = st["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_lab_process(pid):
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if _is_lab_process(pid):
        os.kill(pid, signal.SIGKILL)
    (sd / "lab.pid").unlink(missing_ok=True)
    (sd / "ready.json").unlink(missing_ok=True)
    return True


def status(state_dir: str | Path) -> dict[str, Any]:
    """{running, pid, fleet, devices, listeners, started_at, state_dir}."""
    sd = Path(state_dir)
    try:
        pid = int((sd / "lab.pid").read_text().strip())
    except (OSError, ValueError):
        pid = None
    running = pid is not None and _is_lab_process(pid)
    ready = (_read_json(sd / "ready.json") or {}) if running else {}
    return {"running": running, "pid": pid if running else None, "fleet": ready.get("fleet"),
            "devices": ready.get("devices"), "listeners": ready.get("listeners"),
            "started_at": ready.get("started_at"), "state_dir": str(sd)}
