"""The thumbnail workload: producer, handler, status."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from PIL import Image

from labsupport.errors import ConfigError, InvalidParameter, InvalidQueueName
from labsupport.worker import (
    STATUS_KEYS,
    JobStore,
    ThumbnailHandler,
    ThumbnailNames,
    ensure_resources,
    submit_jobs,
    thumbnail_status,
    thumbnail_worker,
)
from labsupport.worker.daemon import BadJob, parse_job
from labsupport.worker.thumbnails import (
    check_bucket_name,
    list_keys,
    poison_jobs,
)


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def job_for(bucket: str, key: str, job_id: str = "job-1"):
    body = json.dumps({"job_id": job_id, "bucket": bucket, "key": key})
    return parse_job({"MessageId": "m", "ReceiptHandle": "r", "Body": body})


def empty_bucket(s3, bucket: str) -> None:
    """What a restarted endpoint looks like: the same bucket name, no objects."""
    for key in list_keys(s3, bucket, ""):
        s3.delete_object(Bucket=bucket, Key=key)


def run_until_idle(kit, tmp_path, names: ThumbnailNames | None = None):
    worker = thumbnail_worker(
        kit.sqs, kit.s3, names, store_path=tmp_path / "jobs.sqlite3",
        wait_time=0, failure_backoff=0,
    )  # fmt: skip
    try:
        return worker.run(max_empty_polls=1)
    finally:
        worker.store.close()


def test_handler_writes_a_thumbnail_128_px_on_its_longest_side(kit) -> None:
    bucket = kit.resources.bucket
    kit.s3.put_object(Bucket=bucket, Key="images/job-1.jpg", Body=jpeg(400, 300))

    target = ThumbnailHandler(kit.s3, bucket)(job_for(bucket, "images/job-1.jpg"))

    data = kit.s3.get_object(Bucket=bucket, Key=target)["Body"].read()
    assert target == "thumbnails/job-1.jpg"
    assert Image.open(io.BytesIO(data)).size == (128, 96)  # 400x300 scaled by 0.32


def test_handler_refuses_a_job_of_another_bucket(kit) -> None:
    handler = ThumbnailHandler(kit.s3, kit.resources.bucket)
    with pytest.raises(BadJob, match="bucket must be"):
        handler(job_for("someone-elses-bucket", "images/job-1.jpg"))


def test_handler_refuses_an_image_key_not_of_the_job(kit) -> None:
    handler = ThumbnailHandler(kit.s3, kit.resources.bucket)
    with pytest.raises(BadJob, match="key must be"):
        handler(job_for(kit.resources.bucket, "images/other.jpg"))


def test_not_an_image_fails_with_a_stable_message(kit) -> None:
    bucket = kit.resources.bucket
    kit.s3.put_object(Bucket=bucket, Key="images/job-1.jpg", Body=b"plain text")

    with pytest.raises(BadJob) as caught:
        ThumbnailHandler(kit.s3, bucket)(job_for(bucket, "images/job-1.jpg"))

    assert str(caught.value) == "not an image: cannot identify image file"


def test_submit_sends_one_message_per_job_plus_the_resent_ones(kit) -> None:
    jobs = submit_jobs(kit.sqs, kit.s3, kit.resources, 6, poison=2, resend=1)

    attrs = kit.sqs.get_queue_attributes(
        QueueUrl=kit.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    assert [job[-6:] for job in jobs] == [f"-{n:05d}" for n in range(1, 7)]
    assert int(attrs["ApproximateNumberOfMessages"]) == 7
    assert len(poison_jobs(kit.s3, kit.resources.bucket)) == 2
    assert len(list_keys(kit.s3, kit.resources.bucket, "images/")) == 6


def test_job_ids_are_never_reused_after_the_bucket_was_emptied(kit) -> None:
    first = submit_jobs(kit.sqs, kit.s3, kit.resources, 3)
    empty_bucket(kit.s3, kit.resources.bucket)

    second = submit_jobs(kit.sqs, kit.s3, kit.resources, 3)

    assert set(first).isdisjoint(second)


def test_new_jobs_after_an_endpoint_restart_are_done_not_duplicates(
    kit, tmp_path
) -> None:
    # GIVEN 5 jobs done, then a fresh endpoint (same bucket name, no objects)
    submit_jobs(kit.sqs, kit.s3, kit.resources, 5)
    assert run_until_idle(kit, tmp_path) == {"done": 5}
    empty_bucket(kit.s3, kit.resources.bucket)

    # WHEN 5 new jobs are submitted and a worker with the same store runs
    submit_jobs(kit.sqs, kit.s3, kit.resources, 5)
    outcomes = run_until_idle(kit, tmp_path)

    # THEN all 5 are done, and status counts only the bucket's 5 jobs
    status = thumbnail_status(kit.sqs, kit.s3, kit.resources, tmp_path / "jobs.sqlite3")
    assert outcomes == {"done": 5}
    assert (status["submitted"], status["thumbnails"], status["jobs_done"]) == (
        5, 5, 5,
    )  # fmt: skip


def test_status_counts_only_the_jobs_of_its_bucket(kit, tmp_path) -> None:
    # GIVEN 2 jobs done in a second bucket with its own queues, same store
    other = ThumbnailNames("other-jobs", "other-jobs-dlq", "other-bucket")
    other_resources = ensure_resources(kit.sqs, kit.s3, other)
    submit_jobs(kit.sqs, kit.s3, other_resources, 2)
    assert run_until_idle(kit, tmp_path, other) == {"done": 2}

    # WHEN the first bucket gets 3 jobs and nothing is done yet
    submit_jobs(kit.sqs, kit.s3, kit.resources, 3)
    status = thumbnail_status(kit.sqs, kit.s3, kit.resources, tmp_path / "jobs.sqlite3")

    # THEN its status shows 3 submitted, none done
    assert (status["submitted"], status["jobs_done"]) == (3, 0)


def test_status_has_exactly_the_documented_keys(kit, tmp_path) -> None:
    submit_jobs(kit.sqs, kit.s3, kit.resources, 3, poison=1)

    status = thumbnail_status(kit.sqs, kit.s3, kit.resources, tmp_path / "none")

    assert tuple(status) == STATUS_KEYS
    assert set(status) == {
        "submitted", "thumbnails", "jobs_done", "duplicate_deliveries",
        "dead_letter", "queued", "in_flight",
    }  # fmt: skip
    assert (status["submitted"], status["queued"], status["jobs_done"]) == (3, 3, 0)
    assert not (tmp_path / "none").exists()


def test_status_does_not_change_the_store(kit, tmp_path) -> None:
    # GIVEN a store file in rollback-journal mode
    path = tmp_path / "plain.sqlite3"
    JobStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = DELETE")

    thumbnail_status(kit.sqs, kit.s3, kit.resources, path)

    # THEN status left its journal mode alone (it opened it read-only)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_status_refuses_a_file_that_is_not_a_store(kit, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database " * 100)
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        thumbnail_status(kit.sqs, kit.s3, kit.resources, path)


@pytest.mark.parametrize(
    "name", ["b1", "Upper-case", "-dash-first", "a..b", "x" * 64, "192.168.0.1"]
)
def test_bucket_names_s3_refuses_are_refused(name) -> None:
    with pytest.raises(InvalidParameter, match="bucket name"):
        check_bucket_name(name)


def test_bucket_names_s3_accepts_pass() -> None:
    assert check_bucket_name("my.bucket-01") == "my.bucket-01"


@pytest.mark.parametrize("queue", ["bad name!", "q" * 81])
def test_queue_names_sqs_refuses_are_refused_when_named(queue) -> None:
    with pytest.raises(InvalidQueueName):
        ThumbnailNames(queue=queue)


@pytest.mark.parametrize(
    ("count", "poison", "resend"), [(0, 0, 0), (2, 5, 0), (3, 1, 3), (3, -1, 0)]
)
def test_impossible_job_mix_is_refused_before_anything_is_sent(
    kit, count, poison, resend
) -> None:
    with pytest.raises(InvalidParameter):
        submit_jobs(kit.sqs, kit.s3, kit.resources, count, poison=poison, resend=resend)
    assert list_keys(kit.s3, kit.resources.bucket, "") == []


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_outside_1_to_1000_is_refused(kit, count) -> None:
    names = ThumbnailNames("q2", "q2-dlq", "bucket-two")
    with pytest.raises(InvalidParameter, match="maxReceiveCount"):
        ensure_resources(kit.sqs, kit.s3, names, max_receive_count=count)
