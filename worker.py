"""The Sigsync worker: runs queued jobs (syncs) from Redis, and the scheduling loop. Jobs live in portal/jobs.py.

Start more of these, on more machines, to scale out: the database keeps one run per connection
at a time, whichever worker picks a job up, and lets one scheduling loop act at a time (a lease).

Two child processes: the RQ worker and the scheduler (portal.scheduler). This process watches
both; when one stops unexpectedly it stops the other and exits non-zero, so a supervisor
(systemd, a container runtime) restarts the whole worker instead of leaving half of it running.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import threading
from multiprocessing.connection import wait

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
    parts = {}
    if not args.scheduler_only:
        parts["RQ worker"] = run_rq_worker
    if not args.no_scheduler:
        parts["scheduler"] = run_scheduler
    return supervise(parts)


def _redis_answers(config: Config) -> bool:
    try:
        Redis.from_url(config.redis_url, socket_connect_timeout=3).ping()
    except RedisError as exc:
        where = redact_url(config.redis_url)  # a Redis URL may carry a password
        log.error("Cannot reach Redis at %s: %s. Start redis-server or fix REDIS_URL.", where, exc)
        return False
    return True


def supervise(parts: dict) -> int:
    """Run each part in its own process until a signal asks us to stop, or one of them stops by itself."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited sockets or locks
    processes = {context.Process(target=target, name=name): name for name, target in parts.items()}
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: RQ finishes the job it is on (warm shutdown)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.start()
    ended = wait([p.sentinel for p in processes])
    if not stopping.is_set():
        gone = next(p for p in processes if p.sentinel in ended)
        log.error("The %s stopped unexpectedly (exit code %s); stopping the worker so it can be restarted whole.",
                  processes[gone], gone.exitcode)
        stop(signal.SIGTERM, None)
    for process in processes:
        process.join()
    return 0 if stopping.is_set() and all(p.exitcode in (0, -signal.SIGTERM) for p in processes) else 1


def run_rq_worker() -> None:
    """The RQ worker on the sync queue (a child process)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into one SIGTERM
    config = Config.from_env()
    redis = Redis.from_url(config.redis_url)
    worker = Worker([Queue(config.rq_queue, connection=redis)], connection=redis)
    log.info("Worker listening on queue %r", config.rq_queue)
    worker.work()


def run_scheduler() -> None:
    """The scheduling loop (a child process): acts while it holds the database lease."""
    from portal.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    Scheduler(Config.from_env()).run_forever(stop)


if __name__ == "__main__":
    sys.exit(main())
