"""A sync handed to the worker runs through real Redis and RQ, configured from the environment like worker.py."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from portal.jobs import enqueue_sync


@pytest.fixture
def redis_url(config):
    try:
        Redis.from_url(config.redis_url, socket_connect_timeout=1).ping()
    except RedisError as exc:
        pytest.fail(f"the tests need the real Redis at REDIS_URL ({config.redis_url}): {exc}")
    return config.redis_url


def test_a_queued_sync_is_run_by_a_worker(acme, sim_server_engine, redis_url, monkeypatch):
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    config = replace(acme.config, rq_queue=queue_name)
    # The worker builds its Config from the environment, as worker.py does on another machine.
    for name, value in {**sim_server_engine.env(), "DATABASE_URL": config.database_url,
                        "REDIS_URL": redis_url, "SIGSYNC_QUEUE": queue_name}.items():
        monkeypatch.setenv(name, value)
    redis = Redis.from_url(redis_url)
    queue = Queue(queue_name, connection=redis)
    try:
        run_id = enqueue_sync(config, acme.connection.id, trigger="manual")
        assert acme.run(run_id).status == "queued"
        assert queue.count == 1

        SimpleWorker([queue], connection=redis).work(burst=True)

        run = acme.run(run_id)
        assert run.status == "succeeded", run.error
        assert run.counts.get("created", 0) > 250
        assert len(acme.employees()) == run.counts["created"]
    finally:
        queue.delete(delete_jobs=True)


def test_queueing_with_redis_down_fails_the_run_instead_of_leaving_it_queued(acme):
    from portal.jobs import QueueUnavailable, enqueue_sync

    down = replace(acme.config, redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(QueueUnavailable):
        enqueue_sync(down, acme.connection.id)

    run = acme.last_run()
    assert run.status == "failed"
    assert "Redis" in run.error and "REDIS_URL" in run.error
