"""Scan execution: the task bodies (jobs.py), dispatch to Celery or the in-process worker."""
