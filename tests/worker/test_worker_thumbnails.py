"""The thumbnail workload: producer, handler, status, exercises."""

from __future__ import annotations

import io
import json

from PIL import Image

from labsupport.worker import (
    STATUS_KEYS,
    ThumbnailHandler,
    submit_jobs,
    thumbnail_status,
)
from labsupport.worker.daemon import parse_job
from labsupport.worker.exercises import (
    check_after_crash,
    check_dead_letter_count,
    check_receives_before_dlq,
    check_stop_bound,
)
from labsupport.worker.thumbnails import list_keys, poison_jobs


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def job_for(bucket: str, key: str, job_id: str = "job-1"):
    body = json.dumps({"job_id": job_id, "bucket": bucket, "key": key})
    return parse_job({"MessageId": "m", "ReceiptHandle": "r", "Body": body})


def test_handler_writes_a_thumbnail_128_px_on_its_longest_side(kit) -> None:
    bucket = kit.resources.bucket
    kit.s3.put_object(Bucket=bucket, Key="images/a.jpg", Body=jpeg(400, 300))

    target = ThumbnailHandler(kit.s3)(job_for(bucket, "images/a.jpg"))

    data = kit.s3.get_object(Bucket=bucket, Key=target)["Body"].read()
    assert target == "thumbnails/job-1.jpg"
    assert Image.open(io.BytesIO(data)).size == (128, 96)  # 400x300 scaled by 0.32


def test_submit_sends_one_message_per_job_plus_the_resent_ones(kit) -> None:
    jobs = submit_jobs(kit.sqs, kit.s3, kit.resources, 6, poison=2, resend=1)

    attrs = kit.sqs.get_queue_attributes(
        QueueUrl=kit.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    assert jobs == [f"job-{n:05d}" for n in range(1, 7)]
    assert int(attrs["ApproximateNumberOfMessages"]) == 7
    assert len(poison_jobs(kit.s3, kit.resources.bucket)) == 2
    assert len(list_keys(kit.s3, kit.resources.bucket, "images/")) == 6


def test_second_submit_continues_the_numbering(kit) -> None:
    submit_jobs(kit.sqs, kit.s3, kit.resources, 2)
    again = submit_jobs(kit.sqs, kit.s3, kit.resources, 2)
    assert again == ["job-00003", "job-00004"]


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


def test_self_checks_say_right_and_wrong_with_a_hint() -> None:
    assert check_dead_letter_count(4).right
    assert not check_dead_letter_count(16).right
    assert check_receives_before_dlq(3).right
    assert not check_receives_before_dlq(4).right
    assert check_stop_bound(10).right
    assert "not tight" in str(check_stop_bound(14))
    assert check_after_crash("b").right
    assert not check_after_crash("a").right
    assert "Not answered" in str(check_dead_letter_count(None))
