"""The process that runs API batch jobs, and the app-side supervisor that starts it.

Jobs never run in a request thread: ``POST /v1/batches`` stores the job in ``settings.batch_db`` and asks
:class:`WorkerSupervisor` for a worker, a separate ``veracity batch worker`` process. The worker takes jobs
oldest first (queued ones, and running ones whose worker died), checks them with ``run_batch`` and exits
when none are left. At most one worker runs per database: it holds an exclusive ``flock`` on
``<batch_db>.worker.lock`` (released by the OS when the process dies), so a second one exits at once.

Started by the server it exits with the server (``--exit-with-parent``), after its current chunk; the
job stays ``running`` and the next server start resumes it, because results are committed per chunk.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import IO, Any

from veracity.service.batch.runner import BatchOptions, run_batch
from veracity.service.batch.store import ResultsStore
from veracity.service.fetch import FetchConfig
from veracity.service.settings import PREFIX, Settings

log = logging.getLogger(__name__)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as VERACITY_* variables, so a child process reads exactly the app's settings."""
    env = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        env[PREFIX + f.name.upper()] = text
    return env


def fetch_config(settings: Settings) -> FetchConfig:
    return FetchConfig(allow_private=settings.allow_private_urls, delay_s=settings.batch_delay_s)


class WorkerSupervisor:
    """Owned by one app (``app.extensions["veracity_batches"]``): starts a worker when jobs are waiting."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()

    def ensure_running(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            env = {**os.environ, **settings_env(self.settings)}
            command = [sys.executable, "-m", "veracity.service.cli", "batch", "worker", "--exit-with-parent"]
            self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
            log.info("started batch worker pid %d for %s", self._process.pid, self.settings.batch_db)

    def resume_unfinished(self) -> None:
        """At server start: a job left queued or running by a stopped server is picked up again (start-up may
        wait the store's usual 30 s for another writer; supervision steps wait 2 s)."""
        self.restart_if_dead(busy_timeout_s=30.0)

    def watch(self, interval_s: float = 5.0) -> None:
        """Supervise the worker from a daemon thread: a worker that died (killed, out of memory) while jobs
        wait is started again within ``interval_s``, and it resumes the job where its last chunk ended. Before
        this, a killed worker left its job ``running`` and idle until another job arrived or the server
        restarted. Started by ``veracity serve``; ``stop`` ends it."""
        if self._watcher is not None:
            return
        self._stopping.clear()

        def loop() -> None:
            while not self._stopping.wait(interval_s):
                try:
                    self.restart_if_dead()
                except Exception:  # a locked or missing jobs file must not end supervision
                    log.exception("batch worker supervision failed; retrying in %.0f s", interval_s)

        self._watcher = threading.Thread(target=loop, name="veracity-batch-supervisor", daemon=True)
        self._watcher.start()

    def restart_if_dead(self, busy_timeout_s: float = 2.0) -> bool:
        """One supervision step: start a worker if jobs wait and none runs; True when one was started."""
        with self._lock:
            alive = self._process is not None and self._process.poll() is None
        if alive:
            return False
        path = Path(self.settings.batch_db)
        if not path.exists():
            return False
        with ResultsStore(path, busy_timeout_s=busy_timeout_s) as store:
            waiting = store.next_job() is not None
        if waiting:
            if self._process is not None:
                log.warning("batch worker pid %d exited with jobs waiting; starting another", self._process.pid)
            self.ensure_running()
        return waiting

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.join(timeout_s)
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class WorkerLock:
    """An exclusive lock file; ``acquire`` says whether this process is now the worker."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(str(db_path) + ".worker.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def run_worker(settings: Settings, exit_with_parent: bool = False) -> int:
    """Run queued jobs until none are left; returns how many jobs it finished."""
    lock = WorkerLock(settings.batch_db)
    if not lock.acquire():
        log.info("another batch worker holds %s; leaving the jobs to it", lock.path)
        return 0
    parent = os.getppid()

    def parent_gone() -> bool:
        return exit_with_parent and os.getppid() != parent

    pipeline = None
    finished = 0
    store = ResultsStore(settings.batch_db)
    try:
        while not parent_gone():
            job = store.next_job()
            if job is None:
                # release, then look once more: a job committed while we were deciding to leave is not stranded,
                # because its submitter starts a new worker after we released the lock
                lock.release()
                if store.next_job() is None or not lock.acquire():
                    break
                continue
            if pipeline is None:
                from veracity.service.pipeline import build_pipeline

                pipeline = build_pipeline(settings)
            options: dict[str, Any] = json.loads(job["options"] or "{}")
            store.set_job_status(job["id"], "running")
            log.info("batch job %s: %d documents pending", job["id"], store.progress(job["id"])["pending"])
            try:
                stats = run_batch(
                    store,
                    job["id"],
                    settings,
                    BatchOptions(check_all=bool(options.get("check_all")), fetch=fetch_config(settings)),
                    pipeline=pipeline,
                    should_stop=parent_gone,
                )
            except Exception as exc:
                log.exception("batch job %s failed", job["id"])
                store.set_job_status(
                    job["id"], "failed", f"{type(exc).__name__}: {exc}; see the server log, then resubmit"
                )
                continue
            if stats.stopped:
                log.info("batch job %s paused: the server stopped; it resumes at the next start", job["id"])
                break
            store.set_job_status(job["id"], "done")
            finished += 1
            log.info("batch job %s done: %d documents in %.1f s", job["id"], stats.documents, stats.elapsed_s)
    finally:
        store.close()
        lock.release()
    return finished
