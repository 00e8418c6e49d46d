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


def send_job(kit, job_id: str) -> None:
    body = {"job_id": job_id, "bucket": "b", "key": f"images/{job_id}.jpg"}
    kit.sqs.send_message(QueueUrl=kit.resources.queue_url, MessageBody=json.dumps(body))


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
    "settings", [{"wait_time": 21}, {"max_messages": 11}, {"visibility_timeout": 0}]
)
def test_settings_outside_the_service_limits_are_refused(settings) -> None:
    with pytest.raises(InvalidParameter):
        WorkerSettings(**settings)


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
