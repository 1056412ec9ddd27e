"""Deprecated path of the RQ entry point, kept for one release.

Jobs queued in Redis before the move name ``imaradesk.worker_tasks.run_task``; they still run.
New jobs name ``imaradesk.services.run_task``. Remove in 0.3.
"""

from imaradesk.services import run_task, use_services

__all__ = ["run_task", "use_services"]
