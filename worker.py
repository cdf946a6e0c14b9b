"""The Sigsync worker: runs queued jobs (syncs) from Redis, and the scheduling loop. Jobs live in portal/jobs.py.

Start more of these, on more machines, to scale out: the database keeps one run per connection
at a time, whichever worker picks a job up, and lets one scheduling loop act at a time (a lease).

The RQ worker runs in this process (its signals behave as RQ documents: SIGTERM or Ctrl-C finish
the job at hand, a second one stops it); the scheduler (portal.scheduler) runs in a child process
that this one watches. When the scheduler dies, the worker finishes its job and exits with code 1;
when this process dies, the scheduler notices and stops. Either way a supervisor (systemd, a
container runtime) restarts the whole worker rather than leaving half of it running.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
import threading

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from config import Config, ConfigError, redact_url

log = logging.getLogger("sigsync.worker")
LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Sigsync's RQ worker and the scheduling loop.")
    parser.add_argument("--no-scheduler", action="store_true", help="run jobs only, no scheduling loop")
    parser.add_argument("--scheduler-only", action="store_true", help="run the scheduling loop only, no jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    if not _redis_answers(config):
        return 2
    if args.scheduler_only:
        run_scheduler(None)
        return 0
    scheduler = None
    if not args.no_scheduler:
        # spawn: a fresh interpreter, no sockets or locks inherited from this process.
        scheduler = multiprocessing.get_context("spawn").Process(target=run_scheduler, args=(os.getpid(),),
                                                                  name="scheduler")
        scheduler.start()
    crashed = threading.Event()
    if scheduler is not None:
        threading.Thread(target=_watch, args=(scheduler, crashed), name="watch-scheduler", daemon=True).start()
    try:
        run_rq_worker(config)
    finally:
        if scheduler is not None and scheduler.is_alive():
            scheduler.terminate()
            scheduler.join(10)
    return 1 if crashed.is_set() else 0


def _redis_answers(config: Config) -> bool:
    try:
        Redis.from_url(config.redis_url, socket_connect_timeout=3).ping()
    except RedisError as exc:
        where = redact_url(config.redis_url)  # a Redis URL may carry a password
        log.error("Cannot reach Redis at %s: %s. Start redis-server or fix REDIS_URL.", where, exc)
        return False
    return True


def _watch(scheduler: multiprocessing.process.BaseProcess, crashed: threading.Event) -> None:
    """When the scheduler stops by itself, stop the RQ worker too (after its current job)."""
    scheduler.join()
    if scheduler.exitcode in (0, -signal.SIGTERM):  # asked to stop (with the whole worker, usually)
        log.info("The scheduler stopped.")
        return
    crashed.set()
    log.error("The scheduler stopped unexpectedly (exit code %s); the worker stops after its current job so it "
              "can be restarted whole.", scheduler.exitcode)
    os.kill(os.getpid(), signal.SIGTERM)  # RQ's warm shutdown


def run_rq_worker(config: Config) -> None:
    """The RQ worker on the sync queue, in this process."""
    # RQ forks a process for every job: importing the job's code once here, before the forks, spares
    # every run importing it again (about 1.7 s of CPU per run in `python -m bench fleet`).
    import portal.jobs  # noqa: F401

    redis = Redis.from_url(config.redis_url)
    worker = Worker([Queue(config.rq_queue, connection=redis)], connection=redis)
    log.info("Worker listening on queue %r", config.rq_queue)
    worker.work()


def run_scheduler(parent_pid: int | None) -> None:
    """The scheduling loop: acts while it holds the database lease; as a child, stops when its parent is gone."""
    from portal.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())

    def orphaned() -> None:  # the worker was killed: a scheduler alone would be half a worker
        while not stop.wait(1):
            if os.getppid() != parent_pid:
                log.error("The worker process is gone; the scheduler stops too.")
                stop.set()

    if parent_pid is not None:
        threading.Thread(target=orphaned, name="watch-parent", daemon=True).start()
    Scheduler(Config.from_env()).run_forever(stop)


if __name__ == "__main__":
    sys.exit(main())
