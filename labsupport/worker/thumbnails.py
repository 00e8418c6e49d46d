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
Job ids are ``job-<submission>-<n>``: ``<submission>`` is 8 random hex digits
drawn by each :func:`submit_jobs` call and ``<n>`` counts from 00001 within
it, so ids are never reused, not by a second submitter, not after the
endpoint restarted with an empty bucket, not in another bucket. In the
worker's :class:`~labsupport.worker.store.JobStore` a job's key is
``<bucket>/<job id>`` (:func:`job_key`); jobs done and duplicate deliveries
are counted there, for the jobs whose records are in the bucket only.

A worker accepts a job only if its ``bucket`` is the worker's bucket and its
``key`` is ``images/<job id>.jpg``; any other record fails (and after
maxReceiveCount receives sits in the dead-letter queue).
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from labsupport.errors import ConfigError, InvalidParameter
from labsupport.limits import check_count, check_queue_name
from labsupport.worker.daemon import BadJob, Job, Worker, WorkerSettings
from labsupport.worker.images import make_image
from labsupport.worker.store import JobStore

__all__ = [
    "THUMBNAIL_PX",
    "Resources",
    "ThumbnailHandler",
    "ThumbnailNames",
    "check_bucket_name",
    "check_job_mix",
    "check_max_receive_count",
    "check_work_seconds",
    "ensure_resources",
    "find_resources",
    "job_key",
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
# SQS allows a redrive policy's maxReceiveCount from 1 to 1,000.
MAX_RECEIVE_COUNT_LIMIT = 1_000
# The longest extra work a job may be given, seconds (the longest visibility).
MAX_WORK_SECONDS = 43_200
# S3 bucket names: 3 to 63 characters of lowercase letters, digits, dots and
# hyphens, starting and ending with a letter or digit, no "..", not an IP.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BUCKET_RULE = (
    "3 to 63 characters of a-z 0-9 . -, starting and ending with a letter "
    "or digit, no '..', not an IP address"
)


def check_bucket_name(name: str) -> str:
    """Return ``name`` if S3 accepts it as a bucket name, else InvalidParameter."""
    if (
        not isinstance(name, str)
        or not _BUCKET.fullmatch(name)
        or ".." in name
        or _IP_LIKE.fullmatch(name)
    ):
        raise InvalidParameter("bucket name", _BUCKET_RULE, name)
    return name


def check_max_receive_count(value: int) -> int:
    """A redrive policy's maxReceiveCount is 1 to 1,000."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(
            "maxReceiveCount", "a whole number from 1 to 1000", value
        )
    if not 1 <= value <= MAX_RECEIVE_COUNT_LIMIT:
        raise InvalidParameter(
            "maxReceiveCount", "a whole number from 1 to 1000", value
        )
    return value


def check_work_seconds(value: float) -> float:
    """Extra work per job: a finite number of seconds from 0 to 43,200."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= MAX_WORK_SECONDS
    ):
        raise InvalidParameter("work seconds", "a number from 0 to 43200", value)
    return float(value)


def check_job_mix(count: int, poison: int = 0, resend: int = 0) -> None:
    """``count`` >= 1 jobs, 0..count of them poison, 0..good of them resent."""
    check_count(count, "job count")
    if isinstance(poison, bool) or not isinstance(poison, int):
        raise InvalidParameter("poison job count", f"0 to {count}", poison)
    if not 0 <= poison <= count:
        raise InvalidParameter(
            "poison job count", f"0 to the job count ({count})", poison
        )
    good = count - poison
    if (
        isinstance(resend, bool)
        or not isinstance(resend, int)
        or not 0 <= resend <= good
    ):
        raise InvalidParameter(
            "resent job count", f"0 to the number of good jobs ({good})", resend
        )


def job_key(bucket: str, job_id: str) -> str:
    """The store key of job ``job_id`` of ``bucket``."""
    return f"{bucket}/{job_id}"


@dataclass(frozen=True)
class ThumbnailNames:
    """The names of the job queue, its dead-letter queue and the bucket.

    Checked when made (InvalidQueueName, InvalidParameter), before any
    request: the queue names against SQS's rule, the bucket against S3's.
    """

    queue: str = "thumbnail-jobs"
    dead_letter: str = "thumbnail-jobs-dlq"
    bucket: str = "sqs-lab-thumbnails"

    def __post_init__(self) -> None:
        check_queue_name(self.queue, fifo=False)
        check_queue_name(self.dead_letter, fifo=False)
        check_bucket_name(self.bucket)


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
    check_max_receive_count(max_receive_count)
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

    Returns the new job ids (``job-<submission>-<n>``, see the module
    doc), in order. Side effects: objects under ``images/`` and ``jobs/`` in
    the bucket, ``count + resend`` messages.
    """
    check_job_mix(count, poison, resend)
    submission = uuid.uuid4().hex[:8]
    job_ids = [f"job-{submission}-{number:05d}" for number in range(1, count + 1)]
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
        bucket: the bucket this worker serves; a job naming another bucket,
            or an image key other than ``images/<job_id>.jpg``, fails.
        size: the longest side of the thumbnail, in pixels.
        work_seconds: extra seconds each job takes (a sleep), so that a stop
            can land in the middle of a job; 0 to 43,200.

    Side effect: writes ``thumbnails/<job_id>.jpg`` into the bucket,
    overwriting it with the same picture if it is done twice. Raises
    :class:`~labsupport.worker.daemon.BadJob` for a job it refuses or an
    image it cannot read.
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        size: int = THUMBNAIL_PX,
        work_seconds: float = 0.0,
    ) -> None:
        self.s3 = s3
        self.bucket = check_bucket_name(bucket)
        self.size = size
        self.work_seconds = check_work_seconds(work_seconds)

    def __call__(self, job: Job) -> str:
        from PIL import Image, UnidentifiedImageError

        key = self._check(job)
        data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            with Image.open(io.BytesIO(data)) as image:
                picture = image.convert("RGB")
        except UnidentifiedImageError:
            # Pillow's own message names a BytesIO object's address.
            raise BadJob("not an image: cannot identify image file") from None
        picture.thumbnail((self.size, self.size))
        if self.work_seconds > 0:
            time.sleep(self.work_seconds)
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=85)
        target = f"thumbnails/{job.job_id}.jpg"
        self.s3.put_object(
            Bucket=self.bucket,
            Key=target,
            Body=out.getvalue(),
            ContentType="image/jpeg",
        )
        return target

    def _check(self, job: Job) -> str:
        """The image key of a valid job record, else BadJob."""
        if job.error:
            raise BadJob(job.error)
        bucket, key = job.payload.get("bucket"), job.payload.get("key")
        if bucket != self.bucket:
            raise BadJob(f"bad job: bucket must be {self.bucket!r}; got {bucket!r}")
        expected = f"images/{job.job_id}.jpg"
        if key != expected:
            raise BadJob(f"bad job: key must be images/<job_id>.jpg; got {key!r}")
        return expected


# -- a worker for this workload -------------------------------------------------


def thumbnail_worker(
    sqs: Any,
    s3: Any,
    names: ThumbnailNames | None = None,
    *,
    store_path: str | Path,
    work_seconds: float = 0.0,
    poll_sqs: Any = None,
    release_sqs: Any = None,
    **settings: Any,
) -> Worker:
    """A :class:`Worker` making thumbnails, with its store open.

    Checks ``settings`` (passed to :class:`WorkerSettings`) and
    ``work_seconds``, opens the store at ``store_path`` (ConfigError naming
    the path if it cannot), and only then creates the queues and bucket if
    they are missing (with the default maxReceiveCount). ``poll_sqs`` and
    ``release_sqs`` are passed to :class:`Worker`. Close ``worker.store``
    when done.
    """
    names = names or ThumbnailNames()
    if settings.get("worker_id") is None:
        settings.pop("worker_id", None)
    worker_settings = WorkerSettings(**settings)
    handler = ThumbnailHandler(s3, names.bucket, work_seconds=work_seconds)
    store = JobStore(store_path)
    try:
        resources = ensure_resources(
            sqs, s3, names, visibility_timeout=worker_settings.visibility_timeout
        )
    except BaseException:
        store.close()
        raise
    return Worker(
        sqs,
        resources.queue_url,
        handler,
        store,
        worker_settings,
        poll_sqs=poll_sqs,
        release_sqs=release_sqs,
        key_scope=names.bucket,
    )
