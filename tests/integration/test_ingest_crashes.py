"""Nothing lost, nothing doubled: 20,000 submissions from several producers, with
duplicates and invalid events, while ingest workers are SIGKILLed, PostgreSQL
restarts, and a group of three workers loses a member."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_emitter import Emitter

from infra.postgres import EmbeddedPostgres
from infra.topics import ensure_topics
from ledger.settings import Settings
from tests.support.ledger import register_dwp_with, wait_until
from tests.support.stream import (
    Stream,
    Workers,
    assert_exactly_once,
    build_stream,
    produce,
    progress,
)

pytestmark = pytest.mark.integration

VALID, DUPLICATES, INVALID = 18_000, 1_000, 1_000
TOTAL = VALID + DUPLICATES + INVALID


@pytest.fixture
def emitter(settings: Settings) -> Emitter:
    return register_dwp_with(settings)


@pytest.fixture
def stream(emitter: Emitter) -> Stream:
    return build_stream(emitter, VALID, DUPLICATES, INVALID)


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    workers = Workers(settings, tmp_path)
    yield workers
    workers.stop_all()


def produce_in_background(settings: Settings, stream: Stream) -> threading.Thread:
    thread = threading.Thread(target=produce, args=(settings, stream), daemon=True)
    thread.start()
    return thread


def wait_for_all(settings: Settings, timeout: float = 240) -> None:
    wait_until(lambda: progress(settings) == TOTAL, timeout, f"all {TOTAL} submissions")


def test_sigkilled_workers_lose_and_double_nothing(
    settings: Settings, stream: Stream, workers: Workers
) -> None:
    producing = produce_in_background(settings, stream)
    worker = workers.start()
    kills_mid_stream = 0
    for _ in range(4):
        before = progress(settings)
        wait_until(lambda b=before: progress(settings) >= b + 1500, 120, "progress before a kill")
        Workers.kill(worker)  # SIGKILL: mid-batch, with no chance to clean up
        if 0 < progress(settings) < TOTAL:
            kills_mid_stream += 1
        worker = workers.start()
    producing.join()
    wait_for_all(settings)

    assert kills_mid_stream >= 3
    assert_exactly_once(settings, stream)


def test_a_postgresql_restart_mid_stream_loses_and_doubles_nothing(
    settings: Settings, stream: Stream, workers: Workers, postgres_instance: EmbeddedPostgres
) -> None:
    producing = produce_in_background(settings, stream)
    workers.start()
    wait_until(lambda: progress(settings) >= TOTAL // 4, 120, "a quarter of the stream")

    postgres_instance.stop()
    time.sleep(2)  # the worker meets a dead database for a while
    postgres_instance.start()

    producing.join()
    wait_for_all(settings)
    assert all(proc.poll() is None for proc in workers.procs), "the worker did not survive"
    assert_exactly_once(settings, stream)


def test_three_workers_over_six_partitions_survive_losing_one(
    settings: Settings, emitter: Emitter, stream: Stream, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    six = dataclasses.replace(
        settings,
        topic_submissions=f"submissions6.{suffix}",
        topic_rejected=f"rejected6.{suffix}",
        topic_events=f"events6.{suffix}",
        partitions=6,
    )
    ensure_topics(six.kafka_bootstrap, six.topic_partitions)
    workers = Workers(six, tmp_path)
    try:
        producing = produce_in_background(six, stream)
        group = [workers.start() for _ in range(3)]
        wait_until(lambda: progress(six) >= TOTAL // 3, 120, "a third of the stream")
        Workers.kill(group[1])
        producing.join()
        wait_until(lambda: progress(six) == TOTAL, 240, f"all {TOTAL} submissions")
    finally:
        workers.stop_all()

    assert_exactly_once(six, stream)
