"""The Sigsync worker: runs queued jobs (syncs) from Redis. Jobs live in portal/jobs.py.

Start more of these, on more machines, to scale out: the database keeps one run
per connection at a time, whichever worker picks a job up.
"""

from __future__ import annotations

import logging
import sys

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from config import Config, ConfigError, redact_url

log = logging.getLogger("sigsync.worker")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = Config.from_env()
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    redis = Redis.from_url(config.redis_url)
    try:
        redis.ping()
    except RedisError as exc:
        where = redact_url(config.redis_url)  # a Redis URL may carry a password
        log.error("Cannot reach Redis at %s: %s. Start redis-server or fix REDIS_URL.", where, exc)
        return 2
    worker = Worker([Queue(config.rq_queue, connection=redis)], connection=redis)
    log.info("Worker listening on queue %r", config.rq_queue)
    worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
