"""Workers as separate processes: clean shutdown bound and a chaos run."""

from __future__ import annotations

import json
import random
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WORKER_CMD, child_env, spawn_worker, stop_all, wait_for_claim

from labsupport.worker import JobStore, ensure_resources, submit_jobs, thumbnail_status
from labsupport.worker.clients import local_clients
from labsupport.worker.thumbnails import job_key, list_keys, poison_jobs


@pytest.fixture
def endpoint() -> Iterator[subprocess.Popen[bytes]]:
    """``serve`` in its own process (so that it can be frozen with SIGSTOP)."""
    proc = subprocess.Popen(
        [*WORKER_CMD, "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env(),
    )  # fmt: skip
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    proc.url = proc.stdout.readline().decode().strip() if ready else ""
    yield proc
    proc.send_signal(signal.SIGCONT)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def settle(clients, resources, store: Path, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        status = thumbnail_status(clients.sqs, clients.s3, resources, store)
        settled = (
            status["queued"] == 0 and status["in_flight"] == 0
            and status["jobs_done"] + status["dead_letter"] == status["submitted"]
        )  # fmt: skip
        if settled or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def dead_letter_jobs(sqs, url: str) -> list[str]:
    found: list[str] = []
    for _ in range(10):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        found += [json.loads(m["Body"])["job_id"] for m in got]
    return sorted(found)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("grace", "finished"), [(30.0, True), (0.5, False)], ids=["completes", "releases"]
)
def test_sigterm_during_a_job_exits_within_wait_plus_job_time(
    server, tmp_path, grace, finished
) -> None:
    # GIVEN one worker (2 s polls) busy with a 3 s job
    clients = local_clients(server.url)
    resources = ensure_resources(clients.sqs, clients.s3)
    submit_jobs(clients.sqs, clients.s3, resources, 1)
    store = tmp_path / "jobs.sqlite3"
    proc = spawn_worker(
        server.url, store, "w1", tmp_path / "w1.log",
        "--wait-time", "2", "--work-seconds", "3", "--stop-grace", str(grace),
    )  # fmt: skip
    try:
        job = wait_for_claim(store, "w1")

        # WHEN it gets SIGTERM
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        stop_all([proc])

    # THEN it exits 0 within wait + job + margin, the job done or released
    status = thumbnail_status(clients.sqs, clients.s3, resources, store)
    assert code == 0
    assert took < 2 + 3 + 2
    with JobStore(store) as jobs:
        assert (job in jobs.done_jobs()) is finished
    assert status["thumbnails"] == int(finished)
    assert (status["queued"], status["in_flight"]) == (int(not finished), 0)


@pytest.mark.slow
def test_chaos_kills_and_restarts_lose_no_job_and_redo_none_twice(
    server, tmp_path
) -> None:
    # GIVEN 30 jobs (3 poison, 2 sent twice) and three workers
    clients = local_clients(server.url)
    resources = ensure_resources(
        clients.sqs, clients.s3, max_receive_count=5, visibility_timeout=2
    )
    store = tmp_path / "jobs.sqlite3"
    options = ("--wait-time", "1", "--work-seconds", "0.2",
               "--visibility-timeout", "2", "--backoff", "0")  # fmt: skip
    names = ["w1", "w2", "w3"]
    procs = {n: spawn_worker(server.url, store, n, tmp_path / f"{n}.log", *options)
             for n in names}  # fmt: skip
    jobs = submit_jobs(clients.sqs, clients.s3, resources, 30, poison=3, resend=2)
    poison = poison_jobs(clients.s3, resources.bucket)
    good = set(jobs) - poison
    good_keys = {job_key(resources.bucket, job) for job in good}

    # WHEN workers are killed (SIGKILL) or stopped (SIGTERM) and restarted
    rng = random.Random(4)
    try:
        for round_ in range(6):
            name = rng.choice(names)
            sig = signal.SIGKILL if round_ % 2 == 0 else signal.SIGTERM
            wait_for_claim(store, name)
            procs[name].send_signal(sig)
            procs[name].wait(timeout=20)
            procs[name] = spawn_worker(
                server.url, store, name, tmp_path / f"{name}.log", *options
            )
        status = settle(clients, resources, store, timeout=45)
        dead = dead_letter_jobs(clients.sqs, resources.dead_letter_url)
    finally:
        stop_all(list(procs.values()))

    # THEN every good job has one thumbnail and is done, the DLQ holds the poison
    thumbnails = list_keys(clients.s3, resources.bucket, "thumbnails/")
    assert thumbnails == sorted(f"thumbnails/{job}.jpg" for job in good)
    with JobStore(store) as record:
        assert record.done_jobs() == good_keys
    assert dead == sorted(poison)
    assert (status["queued"], status["in_flight"]) == (0, 0)
    assert (status["thumbnails"], status["jobs_done"]) == (27, 27)


def wait_for_log(path: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {timeout} s")


def test_second_sigint_ends_an_idle_long_poll_at_once(server, tmp_path) -> None:
    # GIVEN an idle worker in 20 s long polls
    log = tmp_path / "w1.log"
    proc = spawn_worker(server.url, tmp_path / "jobs.sqlite3", "w1", log,
                        "--wait-time", "20")  # fmt: skip
    try:
        wait_for_log(log, "polling")

        # WHEN it gets SIGINT twice, 0.5 s apart
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=5)
    finally:
        stop_all([proc])

    # THEN it exited cleanly, long before the 20 s poll was over
    assert code == 0


@pytest.mark.slow
def test_sigterm_to_an_idle_worker_of_a_hung_endpoint_is_bounded(
    endpoint, tmp_path
) -> None:
    # GIVEN an idle worker (2 s polls) and an endpoint that stops answering
    log = tmp_path / "w1.log"
    proc = spawn_worker(endpoint.url, tmp_path / "jobs.sqlite3", "w1", log,
                        "--wait-time", "2")  # fmt: skip
    try:
        wait_for_log(log, "polling")
        endpoint.send_signal(signal.SIGSTOP)

        # WHEN it gets SIGTERM
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        endpoint.send_signal(signal.SIGCONT)
        stop_all([proc])

    # THEN it exits within the poll's read timeout (wait + 5 s) and a margin
    assert code == 0
    assert took < 2 + 5 + 2


@pytest.mark.slow
def test_sigterm_mid_job_with_a_hung_endpoint_is_bounded(endpoint, tmp_path) -> None:
    # GIVEN a worker in a 3 s job, a 1 s stop grace, and an endpoint that hangs
    clients = local_clients(endpoint.url)
    resources = ensure_resources(clients.sqs, clients.s3)
    submit_jobs(clients.sqs, clients.s3, resources, 1)
    store = tmp_path / "jobs.sqlite3"
    proc = spawn_worker(
        endpoint.url, store, "w1", tmp_path / "w1.log",
        "--wait-time", "2", "--work-seconds", "3", "--stop-grace", "1",
    )  # fmt: skip
    try:
        job = wait_for_claim(store, "w1")
        endpoint.send_signal(signal.SIGSTOP)

        # WHEN it gets SIGTERM
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        endpoint.send_signal(signal.SIGCONT)
        stop_all([proc])

    # THEN it exits within grace + heartbeat join + one short call + a margin,
    # and the job is not marked done
    assert code == 0
    assert took < 1 + 1 + 5 + 2
    with JobStore(store) as jobs:
        assert job not in jobs.done_jobs()
