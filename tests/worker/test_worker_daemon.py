"""The worker loop on in-process moto: delete on success, retry, DLQ, heartbeat."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from labsupport.errors import InvalidParameter
from labsupport.worker import (
    Heartbeat,
    Job,
    Worker,
    WorkerSettings,
    backoff_seconds,
)
from labsupport.worker.daemon import parse_job


def send_job(kit, job_id: str) -> str:
    """Send one job message; return its MessageId."""
    body = {"job_id": job_id, "bucket": "b", "key": f"images/{job_id}.jpg"}
    sent = kit.sqs.send_message(
        QueueUrl=kit.resources.queue_url, MessageBody=json.dumps(body)
    )
    return str(sent["MessageId"])


def run_in_thread(worker: Worker, **limits: Any) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs=limits, daemon=True)
    thread.start()
    return thread


def wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


def queue_counts(sqs, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]  # fmt: skip
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    )


class Recorder:
    """A handler that records the jobs it got and can fail or take time."""

    def __init__(self, fail: bool = False, seconds: float = 0.0) -> None:
        self.jobs: list[str] = []
        self.fail = fail
        self.seconds = seconds

    def __call__(self, job: Job) -> str:
        self.jobs.append(job.key)
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("this job always fails")
        return "ok"


def make_worker(kit, handler: Any, **settings: Any) -> Worker:
    options: dict[str, Any] = {"wait_time": 0, "failure_backoff": 0}
    options.update(settings)
    return Worker(
        kit.sqs, kit.resources.queue_url, handler, kit.store,
        WorkerSettings(worker_id="w-test", **options),
    )  # fmt: skip


def test_successful_job_is_marked_done_and_its_message_deleted(kit) -> None:
    send_job(kit, "job-1")
    handler = Recorder()

    outcomes = make_worker(kit, handler).run(max_jobs=1)

    assert outcomes == {"done": 1}
    assert handler.jobs == ["job-1"]
    assert kit.store.done_jobs() == {"job-1"}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 0)


def test_failed_job_is_not_deleted_and_not_marked_done(kit) -> None:
    send_job(kit, "job-1")

    outcomes = make_worker(kit, Recorder(fail=True)).run(max_jobs=1)

    assert outcomes == {"failed": 1}
    assert kit.store.done_jobs() == set()
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (1, 0)


def test_failed_job_gets_the_backoff_visibility(kit) -> None:
    send_job(kit, "job-1")

    make_worker(kit, Recorder(fail=True), failure_backoff=30).run(max_jobs=1)

    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 1)


def test_duplicate_delivery_is_deleted_without_redoing_the_work(kit) -> None:
    kit.store.claim("job-1", "earlier", 60)
    kit.store.complete("job-1", "earlier")
    send_job(kit, "job-1")
    handler = Recorder()

    outcomes = make_worker(kit, handler).run(max_jobs=1)

    assert outcomes == {"duplicate": 1}
    assert handler.jobs == []
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 0)


def test_job_claimed_by_a_live_worker_is_left_for_later(kit) -> None:
    kit.store.claim("job-1", "other-worker", 600)
    send_job(kit, "job-1")
    handler = Recorder()

    outcomes = make_worker(kit, handler).run(max_jobs=1)

    assert outcomes == {"busy": 1}
    assert handler.jobs == []
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 1)


def test_poison_job_moves_to_the_dlq_after_max_receive_count(kit) -> None:
    # GIVEN a job that always fails and a redrive policy of 3 receives
    send_job(kit, "poison")
    handler = Recorder(fail=True)

    # WHEN a worker polls until the queue stays empty
    make_worker(kit, handler).run(max_empty_polls=2)

    # THEN it got the job 3 times, and the message sits in the DLQ
    assert handler.jobs == ["poison"] * 3
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 0)
    assert queue_counts(kit.sqs, kit.resources.dead_letter_url) == (1, 0)


def test_redrive_policy_names_the_dlq_and_the_count(kit) -> None:
    attrs = kit.sqs.get_queue_attributes(
        QueueUrl=kit.resources.queue_url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]
    dlq_arn = kit.sqs.get_queue_attributes(
        QueueUrl=kit.resources.dead_letter_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq_arn
    assert int(policy["maxReceiveCount"]) == 3


def test_unreadable_body_is_a_failed_job(kit) -> None:
    kit.sqs.send_message(QueueUrl=kit.resources.queue_url, MessageBody="not json")
    handler = Recorder()

    outcomes = make_worker(kit, handler).run(max_jobs=1)

    assert outcomes == {"failed": 1}
    assert handler.jobs == []


def test_parse_job_reads_key_and_receive_count() -> None:
    message = {
        "MessageId": "m-1", "ReceiptHandle": "rh",
        "Body": json.dumps({"job_id": "job-3", "bucket": "b", "key": "k"}),
        "Attributes": {"ApproximateReceiveCount": "2"},
    }  # fmt: skip
    job = parse_job(message)
    assert (job.key, job.receive_count, job.error) == ("job-3", 2, "")


@pytest.mark.parametrize(
    ("count", "base", "cap", "expected"),
    [(1, 2, 60, 2), (2, 2, 60, 4), (3, 2, 60, 8), (7, 2, 60, 60), (4, 0, 60, 0)],
)
def test_backoff_doubles_up_to_the_cap(count, base, cap, expected) -> None:
    assert backoff_seconds(count, base, cap) == expected


@pytest.mark.parametrize(
    "settings",
    [
        {"wait_time": 21}, {"wait_time": -1}, {"max_messages": 11},
        {"visibility_timeout": 0}, {"visibility_timeout": 50_000},
        {"failure_backoff": -3}, {"stop_grace": -5}, {"stop_grace": float("nan")},
        {"stop_grace": float("inf")}, {"heartbeat_interval": 0},
    ],
)  # fmt: skip
def test_settings_outside_the_limits_are_refused(settings) -> None:
    with pytest.raises(InvalidParameter):
        WorkerSettings(**settings)


@pytest.mark.parametrize("limits", [{"max_jobs": 0}, {"max_empty_polls": 0}])
def test_run_limits_below_one_are_refused(kit, limits) -> None:
    with pytest.raises(InvalidParameter):
        make_worker(kit, Recorder()).run(**limits)


@pytest.mark.parametrize(
    "body",
    ['{"job_id": ""}', '{"job_id": {"a": 1}}', '{"job_id": "../../evil"}',
     '["job-1"]', "null", '{"job_id": "a/b"}'],
)  # fmt: skip
def test_parse_job_refuses_a_bad_job_id(body) -> None:
    job = parse_job({"MessageId": "m-1", "ReceiptHandle": "rh", "Body": body})
    assert job.error.startswith("bad job")
    assert (job.key, job.job_id) == ("message-m-1", "")


def test_parse_job_scopes_the_key() -> None:
    body = json.dumps({"job_id": "job-3"})
    job = parse_job({"MessageId": "m", "ReceiptHandle": "r", "Body": body}, "bkt")
    assert (job.key, job.job_id) == ("bkt/job-3", "job-3")


def test_bad_job_id_is_a_failed_job_and_not_done(kit) -> None:
    kit.sqs.send_message(
        QueueUrl=kit.resources.queue_url, MessageBody='{"job_id": "../../evil"}'
    )
    handler = Recorder()

    outcomes = make_worker(kit, handler).run(max_jobs=1)

    assert outcomes == {"failed": 1}
    assert handler.jobs == []
    assert kit.store.done_jobs() == set()


def test_heartbeat_keeps_a_long_job_hidden_past_its_timeout(kit) -> None:
    # GIVEN a 1 s visibility timeout and a job that takes 2.5 s
    send_job(kit, "slow")
    handler = Recorder(seconds=2.5)
    worker = make_worker(kit, handler, visibility_timeout=1, heartbeat_interval=0.25)
    thread = threading.Thread(target=worker.run, kwargs={"max_jobs": 1})
    thread.start()

    # WHEN another consumer polls after the first timeout has passed
    time.sleep(1.6)
    second = kit.sqs.receive_message(QueueUrl=kit.resources.queue_url)
    thread.join(timeout=10)

    # THEN it got nothing, and the job was done once
    assert second.get("Messages", []) == []
    assert handler.jobs == ["slow"]
    assert worker.outcomes == {"done": 1}


def test_heartbeat_stops_when_the_lease_is_lost(kit) -> None:
    send_job(kit, "job-1")
    message = kit.sqs.receive_message(QueueUrl=kit.resources.queue_url)["Messages"][0]
    beat = Heartbeat(
        kit.sqs, kit.resources.queue_url, message["ReceiptHandle"],
        visibility_timeout=30, interval=60,
    )  # fmt: skip
    assert beat.beat() is True

    kit.sqs.delete_message(
        QueueUrl=kit.resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
    )

    assert beat.beat() is False
    assert beat.lost
    assert beat.beats == 1


def test_stop_request_lets_the_current_job_finish(kit) -> None:
    send_job(kit, "job-1")
    send_job(kit, "job-2")
    handler = Recorder(seconds=0.5)
    worker = make_worker(kit, handler)
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 10
    while not handler.jobs and time.monotonic() < deadline:
        time.sleep(0.01)

    worker.request_stop()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert handler.jobs == ["job-1"]
    assert worker.outcomes == {"done": 1}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (1, 0)


def test_second_stop_request_releases_the_job_at_once(kit) -> None:
    # GIVEN a worker in the middle of a 30 s job
    send_job(kit, "job-1")
    handler = Recorder(seconds=30)
    worker = make_worker(kit, handler, visibility_timeout=60)
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 10
    while not handler.jobs and time.monotonic() < deadline:
        time.sleep(0.01)

    # WHEN it is asked to stop twice
    worker.request_stop()
    worker.request_stop()
    thread.join(timeout=10)

    # THEN it returned, and the message is visible again, not done
    assert not thread.is_alive()
    assert worker.outcomes == {"released": 1}
    assert kit.store.done_jobs() == set()
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (1, 0)


def test_second_copy_of_a_job_in_progress_is_deleted_not_left(kit) -> None:
    # GIVEN another worker holding job-1 through another message
    kit.store.claim("job-1", "other-token", 600, worker="other", message_id="m-x")
    send_job(kit, "job-1")
    handler = Recorder()

    # WHEN this worker receives a second copy
    outcomes = make_worker(kit, handler).run(max_jobs=1)

    # THEN the copy is deleted without doing the work
    assert outcomes == {"duplicate": 1}
    assert handler.jobs == []
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 0)


def test_same_message_held_by_another_worker_is_hidden_until_its_lease_ends(
    kit,
) -> None:
    message_id = send_job(kit, "job-1")
    kit.store.claim("job-1", "other-token", 600, worker="other", message_id=message_id)

    outcomes = make_worker(kit, Recorder()).run(max_jobs=1)

    assert outcomes == {"busy": 1}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 1)


def test_job_sent_twice_with_a_long_run_is_not_dead_lettered(kit) -> None:
    # GIVEN one job sent twice, a 1 s visibility and a job of 4 s
    send_job(kit, "job-1")
    send_job(kit, "job-1")
    handler = Recorder(seconds=4)
    workers = [
        make_worker(kit, handler, visibility_timeout=1, heartbeat_interval=0.25)
        for _ in range(3)
    ]

    # WHEN three workers poll until the queue stays empty
    threads = [run_in_thread(w, max_empty_polls=30) for w in workers]
    for thread in threads:
        thread.join(timeout=20)

    # THEN the job was done once and nothing reached the dead-letter queue
    assert handler.jobs == ["job-1"]
    assert kit.store.done_jobs() == {"job-1"}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 0)
    assert queue_counts(kit.sqs, kit.resources.dead_letter_url) == (0, 0)


def test_workers_with_the_same_id_cannot_both_claim_a_job(kit) -> None:
    first, second = make_worker(kit, Recorder()), make_worker(kit, Recorder())
    kit.store.claim("job-1", first.token, 600, worker="w-test", message_id="m-1")
    send_job(kit, "job-1")

    outcomes = second.run(max_jobs=1)

    assert first.token != second.token
    assert second.handler.jobs == []
    assert outcomes == {"duplicate": 1}


def test_claim_taken_over_in_the_store_is_not_completed(kit) -> None:
    # GIVEN a job whose claim is taken over by "thief" while it runs
    send_job(kit, "job-1")

    def handler(job: Job) -> str:
        kit.store.release(job.key, worker.token)
        kit.store.claim(job.key, "thief-token", 600, worker="thief")
        time.sleep(0.6)  # two heartbeats: the store extension fails
        return "ok"

    worker = make_worker(kit, handler, heartbeat_interval=0.2)

    # WHEN the handler succeeds
    outcomes = worker.run(max_jobs=1)

    # THEN the job is neither marked done nor deleted; the thief holds it
    assert outcomes == {"lease-lost": 1}
    assert kit.store.done_jobs() == set()
    assert kit.store.live_claims() == {"job-1": "thief"}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (0, 1)


def test_second_stop_request_ends_an_idle_long_poll_at_once(kit) -> None:
    # GIVEN an idle worker in a 5 s long poll
    worker = make_worker(kit, Recorder(), wait_time=5)
    thread = run_in_thread(worker)
    time.sleep(0.3)

    # WHEN it is asked to stop twice
    worker.request_stop()
    worker.request_stop()
    thread.join(timeout=3)

    # THEN it returned before the poll's 5 s were over
    assert not thread.is_alive()


def test_unstarted_messages_are_released_and_logged_by_message_id(kit, caplog) -> None:
    # GIVEN two jobs received together, and a stop during the first
    send_job(kit, "job-1")
    send_job(kit, "job-2")

    def handler(job: Job) -> str:
        worker.request_stop()
        return "ok"

    worker = make_worker(kit, handler, max_messages=10, wait_time=1)
    caplog.set_level("INFO", logger="labsupport.worker.daemon")

    outcomes = worker.run()

    # THEN one is done, the other visible again; the log names its MessageId
    released = [r.getMessage() for r in caplog.records if "unstarted" in r.getMessage()]
    assert outcomes == {"done": 1}
    assert queue_counts(kit.sqs, kit.resources.queue_url) == (1, 0)
    assert len(released) == 1
    assert released[0].startswith("message ")


def test_heartbeat_stop_does_not_wait_for_a_call_that_hangs() -> None:
    # GIVEN a heartbeat whose ChangeMessageVisibility call never returns
    calling, never = threading.Event(), threading.Event()

    class HangingSqs:
        def change_message_visibility(self, **_: Any) -> None:
            calling.set()
            never.wait(30)

    beat = Heartbeat(
        HangingSqs(), "q", "rh", visibility_timeout=30, interval=0.01,
        join_timeout=0.1,
    )  # fmt: skip
    beat.start()
    assert calling.wait(5)

    # WHEN it is stopped
    stopper = threading.Thread(target=beat.stop)
    stopper.start()
    stopper.join(timeout=5)

    # THEN stop() returned although the call is still hanging
    assert not stopper.is_alive()
    never.set()
