"""Where the thumbnail jobs stand: submitted, done, duplicated, dead, waiting.

:func:`thumbnail_status` gathers the counts ``sqs-lab thumbnails status``
prints, from three places:

====================  =========================================================
submitted             job records under ``jobs/`` in the bucket
thumbnails            objects under ``thumbnails/`` in the bucket
jobs_done             distinct jobs of this bucket (those with a record
                      under ``jobs/``) marked done in the job store
duplicate_deliveries  deliveries of this bucket's jobs the worker deleted
                      without doing the work: done before, or a second copy
                      of a job in progress
dead_letter           messages in the dead-letter queue (visible or not)
queued                messages waiting in the job queue (visible or delayed)
in_flight             messages received from the job queue and not yet
                      deleted or returned
====================  =========================================================

Limitations: the three queue counts are SQS's approximate attributes. On the
real service they lag by up to a minute; moto and the sim answer exactly.
A poison message whose last receive has happened stays counted in the job
queue until some worker polls again (the move to the dead-letter queue
happens on a receive attempt).

The job store is opened read-only: nothing is written to it, and a store
file that does not exist is not created (its counts are then 0; the
command line says so on stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labsupport.worker.store import JobStore
from labsupport.worker.thumbnails import Resources, job_key, list_keys

__all__ = ["STATUS_KEYS", "format_status", "thumbnail_status"]

STATUS_KEYS = (
    "submitted",
    "thumbnails",
    "jobs_done",
    "duplicate_deliveries",
    "dead_letter",
    "queued",
    "in_flight",
)


def thumbnail_status(
    sqs: Any, s3: Any, resources: Resources, store_path: str | Path | None
) -> dict[str, int]:
    """The seven counts of :data:`STATUS_KEYS` (store counts are 0 with no store).

    Side effects: none; the store is opened read-only, and a store file that
    does not exist is not created. A path that exists but is not a job store
    raises ConfigError.
    """
    main = _queue_counts(sqs, resources.queue_url)
    dead = _queue_counts(sqs, resources.dead_letter_url)
    records = list_keys(s3, resources.bucket, "jobs/")
    keys = {job_key(resources.bucket, _job_id(record)) for record in records}
    jobs_done, duplicates = 0, 0
    if store_path is not None and Path(store_path).exists():
        with JobStore(store_path, read_only=True) as store:
            jobs_done = len(store.done_jobs() & keys)
            duplicates = store.count_outcome("duplicate", keys)
    return {
        "submitted": len(records),
        "thumbnails": len(list_keys(s3, resources.bucket, "thumbnails/")),
        "jobs_done": jobs_done,
        "duplicate_deliveries": duplicates,
        "dead_letter": dead["visible"] + dead["in_flight"] + dead["delayed"],
        "queued": main["visible"] + main["delayed"],
        "in_flight": main["in_flight"],
    }


def format_status(status: dict[str, int]) -> str:
    """The counts as aligned ``name: value`` lines, in :data:`STATUS_KEYS` order."""
    width = max(len(key) for key in STATUS_KEYS)
    return "\n".join(f"{key:<{width}}  {status[key]}" for key in STATUS_KEYS)


def _job_id(record_key: str) -> str:
    """``jobs/<id>.json`` -> ``<id>``."""
    return record_key.removeprefix("jobs/").removesuffix(".json")


def _queue_counts(sqs: Any, url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }
