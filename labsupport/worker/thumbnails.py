"""The thumbnail workload: images in S3, one job message per image.

Where things live (all in one bucket, beside the queues at one endpoint):

=====================  =======================================================
``images/<job>.jpg``   the source image of a job (a poison job's "image" is
                       a few bytes of text, so it always fails)
``jobs/<job>.json``    the job record written when it was submitted: this is
                       what ``submitted`` counts, and it says which jobs are
                       poison
``thumbnails/<job>.jpg``  the result, at most ``THUMBNAIL_PX`` on a side
=====================  =======================================================

The job message body is JSON: ``{"job_id": ..., "bucket": ..., "key": ...}``.
Jobs done and duplicate deliveries are counted from the worker's
:class:`~labsupport.worker.store.JobStore`.

Limitations: the job records are written one object per job so that several
submitters never overwrite each other; the numbering of new jobs, though,
continues from the records present, so two submitters running at the same
moment could pick the same job ids.
"""

from __future__ import annotations

import io
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from labsupport.errors import ConfigError
from labsupport.limits import check_count
from labsupport.worker.daemon import Job, Worker, WorkerSettings
from labsupport.worker.images import make_image
from labsupport.worker.store import JobStore

__all__ = [
    "THUMBNAIL_PX",
    "Resources",
    "ThumbnailHandler",
    "ThumbnailNames",
    "ensure_resources",
    "find_resources",
    "list_keys",
    "poison_jobs",
    "submit_jobs",
    "thumbnail_worker",
]

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 128
DEFAULT_MAX_RECEIVE_COUNT = 3
# The dead-letter queue keeps messages for the longest time SQS allows (14 days).
DLQ_RETENTION_S = 1_209_600
POISON_BYTES = b"this is not an image\n"


@dataclass(frozen=True)
class ThumbnailNames:
    """The names of the job queue, its dead-letter queue and the bucket."""

    queue: str = "thumbnail-jobs"
    dead_letter: str = "thumbnail-jobs-dlq"
    bucket: str = "sqs-lab-thumbnails"


@dataclass(frozen=True)
class Resources:
    """The URLs of the two queues and the bucket name, once they exist."""

    queue_url: str
    dead_letter_url: str
    bucket: str


def ensure_resources(
    sqs: Any,
    s3: Any,
    names: ThumbnailNames | None = None,
    *,
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
    visibility_timeout: int = 30,
) -> Resources:
    """Create the dead-letter queue, the job queue wired to it, and the bucket.

    The job queue's RedrivePolicy names the dead-letter queue's ARN and
    ``max_receive_count``: a message received that many times without being
    deleted moves there on the next receive. Queues and bucket that exist
    already are used as they are (their settings are not changed).
    """
    names = names or ThumbnailNames()
    check_count(max_receive_count, "maxReceiveCount")
    dlq_url = _find_or_create_queue(
        sqs, names.dead_letter, {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    queue_url = _find_or_create_queue(
        sqs,
        names.queue,
        {
            "RedrivePolicy": json.dumps(policy),
            "VisibilityTimeout": str(visibility_timeout),
        },
    )
    _ensure_bucket(s3, names.bucket)
    return Resources(queue_url, dlq_url, names.bucket)


def _ensure_bucket(s3: Any, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass  # not there yet
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as err:
        # Another process (a second worker) may have created it meanwhile.
        if err.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
    logger.info("created bucket %s", bucket)


def find_resources(sqs: Any, names: ThumbnailNames | None = None) -> Resources:
    """The resources made by :func:`ensure_resources`, or ConfigError if missing."""
    names = names or ThumbnailNames()
    try:
        queue_url = sqs.get_queue_url(QueueName=names.queue)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=names.dead_letter)["QueueUrl"]
    except ClientError as err:
        raise ConfigError(
            f"No queue named {names.queue!r} with its dead-letter queue "
            f"{names.dead_letter!r} at this endpoint: run "
            "`sqs-lab thumbnails submit` first, or pass the right --queue."
        ) from err
    return Resources(queue_url, dlq_url, names.bucket)


def _find_or_create_queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url
    except ClientError:
        pass  # not there yet
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    logger.info("created queue %s", name)
    return url


# -- the producer -------------------------------------------------------------


def submit_jobs(
    sqs: Any,
    s3: Any,
    resources: Resources,
    count: int,
    *,
    poison: int = 0,
    resend: int = 0,
    seed: int = 1,
) -> list[str]:
    """Upload ``count`` images and send one job message for each.

    Args:
        count: how many jobs, at least 1.
        poison: how many of them always fail (their image is not an image);
            which ones is drawn with ``seed``.
        resend: how many good jobs are sent a second time, as a producer
            that retries a timed-out SendMessage would: two distinct messages,
            one job.
        seed: seeds the images and the choice of poison and resent jobs.

    Returns the new job ids, in order. Side effects: objects under
    ``images/`` and ``jobs/`` in the bucket, ``count + resend`` messages.
    """
    check_count(count, "job count")
    if not 0 <= poison <= count or not 0 <= resend <= count - poison:
        raise ConfigError(
            f"Invalid job mix: poison must be 0 to {count} and resend 0 to the "
            f"number of good jobs; got poison={poison}, resend={resend}."
        )
    first = len(list_keys(s3, resources.bucket, "jobs/")) + 1
    job_ids = [f"job-{number:05d}" for number in range(first, first + count)]
    rng = random.Random(seed)
    bad = set(rng.sample(job_ids, poison))
    again = rng.sample([j for j in job_ids if j not in bad], resend)

    for index, job_id in enumerate(job_ids):
        body = _upload_job(s3, resources.bucket, job_id, job_id in bad, seed, index)
        sqs.send_message(QueueUrl=resources.queue_url, MessageBody=body)
    for job_id in again:
        body = json.dumps(_job_body(resources.bucket, job_id))
        sqs.send_message(QueueUrl=resources.queue_url, MessageBody=body)
    logger.info("submitted %d jobs (%d poison, %d resent)", count, poison, resend)
    return job_ids


def _job_body(bucket: str, job_id: str) -> dict[str, str]:
    return {"job_id": job_id, "bucket": bucket, "key": f"images/{job_id}.jpg"}


def _upload_job(
    s3: Any, bucket: str, job_id: str, is_poison: bool, seed: int, index: int
) -> str:
    body = _job_body(bucket, job_id)
    data = POISON_BYTES if is_poison else make_image(seed, index)
    s3.put_object(Bucket=bucket, Key=body["key"], Body=data, ContentType="image/jpeg")
    record = dict(body, poison=is_poison, submitted_at=time.time())
    s3.put_object(
        Bucket=bucket,
        Key=f"jobs/{job_id}.json",
        Body=json.dumps(record).encode(),
        ContentType="application/json",
    )
    return json.dumps(body)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """Every object key under ``prefix`` in ``bucket``, sorted."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


def poison_jobs(s3: Any, bucket: str) -> set[str]:
    """The ids of the submitted jobs that were made to fail."""
    found = set()
    for key in list_keys(s3, bucket, "jobs/"):
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if record.get("poison"):
            found.add(str(record["job_id"]))
    return found


# -- the job handler ----------------------------------------------------------


class ThumbnailHandler:
    """Makes the thumbnail of one job's image.

    Args:
        s3: a boto3 S3 client.
        size: the longest side of the thumbnail, in pixels.
        work_seconds: extra seconds each job takes (a sleep), so that a stop
            can land in the middle of a job.

    Side effect: writes ``thumbnails/<job_id>.jpg`` into the job's bucket,
    overwriting it with the same picture if it is done twice.
    """

    def __init__(
        self, s3: Any, size: int = THUMBNAIL_PX, work_seconds: float = 0.0
    ) -> None:
        self.s3 = s3
        self.size = size
        self.work_seconds = work_seconds

    def __call__(self, job: Job) -> str:
        from PIL import Image

        bucket, key = job.payload["bucket"], job.payload["key"]
        data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with Image.open(io.BytesIO(data)) as image:
            picture = image.convert("RGB")
        picture.thumbnail((self.size, self.size))
        if self.work_seconds > 0:
            time.sleep(self.work_seconds)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=85)
        target = f"thumbnails/{job.key}.jpg"
        self.s3.put_object(
            Bucket=bucket, Key=target, Body=out.getvalue(), ContentType="image/jpeg"
        )
        return target


# -- a worker for this workload -------------------------------------------------


def thumbnail_worker(
    sqs: Any,
    s3: Any,
    names: ThumbnailNames | None = None,
    *,
    store_path: str | Path,
    work_seconds: float = 0.0,
    **settings: Any,
) -> Worker:
    """A :class:`Worker` making thumbnails, with its store open.

    Creates the queues and bucket if they are missing (with the default
    maxReceiveCount), opens the store at ``store_path`` and passes
    ``settings`` to :class:`WorkerSettings`. Close ``worker.store`` when done.
    """
    if settings.get("worker_id") is None:
        settings.pop("worker_id", None)
    resources = ensure_resources(
        sqs,
        s3,
        names,
        visibility_timeout=settings.get("visibility_timeout", 30),
    )
    store = JobStore(store_path)
    handler = ThumbnailHandler(s3, work_seconds=work_seconds)
    return Worker(sqs, resources.queue_url, handler, store, WorkerSettings(**settings))
