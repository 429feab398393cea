"""Celery: imported only when CAMAUDIT_BROKER is set (``camaudit worker``, ``dispatch.submit``).

acks_late + reject_on_worker_lost + prefetch 1: a task is acknowledged only after the scan is
done, so a worker killed mid-scan leaves it to be redelivered; the scan lease (store/lease.py)
makes the redelivery and the minute tick safe to run twice.  Results live in the database, not
in a result backend.  Redis's visibility timeout must exceed the lease."""

from __future__ import annotations

import os
from functools import lru_cache

from celery import Celery

from camaudit.store.platform import Platform

BROKER = os.environ.get("CAMAUDIT_BROKER", "redis://127.0.0.1:6379/0")
app = Celery("camaudit", broker=BROKER)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue="camaudit",
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("CAMAUDIT_VISIBILITY_TIMEOUT", "3600"))},
    worker_hijack_root_logger=False,
    timezone="Asia/Ho_Chi_Minh",
    beat_schedule={"camaudit-tick": {"task": "camaudit.tick", "schedule": float(os.environ.get(
        "CAMAUDIT_TICK_SECONDS", "60"))}},
)


@lru_cache(maxsize=1)
def platform() -> Platform:
    return Platform(os.environ.get("CAMAUDIT_DB") or None)


@app.task(name="camaudit.scan")
def scan_task(scan_id: str) -> str:
    from camaudit.workers import dispatch, jobs

    return jobs.execute_scan(platform(), scan_id, submit=dispatch.submit)


@app.task(name="camaudit.tick")
def tick_task() -> dict:
    from camaudit.workers import dispatch, jobs

    return jobs.tick(platform(), dispatch.submit)
