"""Background jobs: uploads and builds run off the web server's request threads.

A job is a row of the catalog's ``jobs`` table (id, kind, dataset, status, progress,
created_by, created_at, finished_at, result_json) and a task on a small thread pool owned by
the app (:class:`JobRunner`). Jobs of one dataset run one at a time (a per-dataset lock here,
and the store's dataset lock across processes), so a burst of uploads never occupies every
web thread: the request that uploaded waits at most ``CHIPAO_UPLOAD_WAIT_SECONDS`` and then
answers ``202 Accepted`` with ``Location: /api/v1/jobs/<id>`` (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from service.store import db

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")
metadata = sa.MetaData()

jobs_table = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dataset", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("result_json", sa.Text, nullable=True),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


#: a job's work: called with a progress callback (0-1); returns a JSON-safe result
Work = Callable[[Callable[[float], None]], dict[str, Any]]


class JobRunner:
    """Runs jobs on ``workers`` threads, one job per dataset at a time."""

    def __init__(self, database_url: str, *, workers: int = 2) -> None:
        self.engine = db.engine(database_url)
        self.pool = ThreadPoolExecutor(max_workers=max(1, int(workers)),
                                       thread_name_prefix="chipao-job")
        self._futures: dict[str, Future] = {}
        self._dataset_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _dataset_lock(self, dataset: str) -> threading.Lock:
        with self._lock:
            return self._dataset_locks.setdefault(dataset, threading.Lock())

    def submit(self, kind: str, dataset: str, created_by: str | None, work: Work) -> str:
        job_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(jobs_table.insert().values(
                id=job_id, kind=kind, dataset=dataset, status="queued", progress=0.0,
                created_by=created_by, created_at=_now()))
        future = self.pool.submit(self._run, job_id, dataset, work)
        with self._lock:
            self._futures[job_id] = future
        return job_id

    def _update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(jobs_table.update().where(jobs_table.c.id == job_id).values(**values))

    def _run(self, job_id: str, dataset: str, work: Work) -> None:
        from service.errors import ChipaoError, status_for

        with self._dataset_lock(dataset):  # one build per dataset at a time
            self._update(job_id, status="running", progress=0.05)
            try:
                result = work(lambda f: self._update(job_id, progress=float(min(max(f, 0), 1))))
                status = "done"
            except ChipaoError as exc:
                result = {"status": status_for(exc), "title": exc.title, "detail": str(exc)}
                status = "failed"
            except Exception:  # never lost silently; no internals in the result
                log.exception("job %s (%s) failed", job_id, dataset)
                result = {"status": 500, "title": "Internal error",
                          "detail": "the job failed; see the server log / งานล้มเหลว"}
                status = "failed"
            self._update(job_id, status=status, progress=1.0, finished_at=_now(),
                         result_json=json.dumps(result, ensure_ascii=False, default=str))
        with self._lock:
            self._futures.pop(job_id, None)

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True when the job has finished."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is None:
            return True
        try:
            future.result(timeout=max(timeout, 0) or 0.001)
        except TimeoutError:
            return False
        except Exception:
            return True
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            return None
        return {"id": row.id, "kind": row.kind, "dataset": row.dataset, "status": row.status,
                "progress": round(float(row.progress), 3), "created_by": row.created_by,
                "created_at": _iso(row.created_at), "finished_at": _iso(row.finished_at),
                "result": json.loads(row.result_json) if row.result_json else None}

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


# -- the worker process of imports and builds ------------------------------------------------
_PROCESS_POOL: dict[str, Any] = {}  # "pool": the one ProcessPoolExecutor of this process
_PROCESS_LOCK = threading.Lock()


def _lower_priority(nice: int) -> None:
    """Initializer of the worker process: lower priority, and on Linux ask the kernel to
    end the worker when the web process that started it dies (even by SIGKILL), so a
    killed server leaves no idle build process behind."""
    import os

    if nice > 0:
        os.nice(min(int(nice), 19))
    _die_with_parent()


def _die_with_parent() -> None:
    import ctypes
    import os
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl here: the worker ends with the pool
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(0)


def uses_process(settings: Any) -> bool:
    """True when jobs' imports run in the worker process (setting ``job_process``)."""
    mode = str(settings.job_process).lower()
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"job_process must be auto, on or off, not {mode!r}")
    return mode == "on" or (mode == "auto" and not settings.testing)


def in_process(settings: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in the app's worker process (started on first use with the ``spawn``
    method, never a fork of the threaded web server; niceness ``job_nice``; as many
    processes as ``job_workers``). ``fn`` and ``args`` must pickle; the caller's job thread
    waits for the result without holding the interpreter lock."""
    import atexit
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with _PROCESS_LOCK:
        pool = _PROCESS_POOL.get("pool")
        if pool is None:
            pool = _PROCESS_POOL["pool"] = ProcessPoolExecutor(
                max_workers=max(1, int(settings.job_workers)),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority, initargs=(int(settings.job_nice),))
            atexit.register(pool.shutdown, cancel_futures=True)
    return pool.submit(fn, *args).result()
