"""The embedded worker: one thread that runs queued scans one at a time and ticks the
scheduler every ``interval`` seconds (the same jobs as Celery and beat)."""

from __future__ import annotations

import logging
import queue
import threading
import time

from camaudit.store.platform import Platform
from camaudit.workers import jobs

log = logging.getLogger("camaudit.workers")


class InProcessWorker:
    def __init__(self, platform: Platform, *, interval: float = 30.0) -> None:
        self.platform = platform
        self.interval = interval
        self.queue: queue.Queue[str] = queue.Queue()
        self.pending: set[str] = set()  # in the queue: a tick does not queue a scan twice
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="camaudit-worker", daemon=True)

    def submit(self, scan_id: str) -> None:
        with self.lock:
            if scan_id in self.pending:
                return
            self.pending.add(scan_id)
        self.queue.put(scan_id)

    def start(self) -> None:
        self.thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.queue.put("")
        self.thread.join(timeout)

    def _loop(self) -> None:
        next_tick = 0.0
        while not self.stop.is_set():
            if time.monotonic() >= next_tick:
                try:
                    jobs.tick(self.platform, self.submit, resend_after=None)
                except Exception:
                    log.exception("scheduler tick failed")
                next_tick = time.monotonic() + self.interval
            try:
                scan_id = self.queue.get(timeout=min(1.0, self.interval))
            except queue.Empty:
                continue
            with self.lock:
                self.pending.discard(scan_id)
            if scan_id and not self.stop.is_set():
                try:
                    jobs.execute_scan(self.platform, scan_id, submit=self.submit)
                except Exception:
                    log.exception("scan %s failed", scan_id)
