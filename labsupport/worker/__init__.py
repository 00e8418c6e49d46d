"""Lab 4: a worker daemon processing thumbnail jobs from SQS.

Workers long-poll a queue, claim each job in a shared SQLite
:class:`JobStore`, keep the message hidden with a :class:`Heartbeat` while
the job runs, and delete the message only after the job succeeded. Failed
jobs return and, after maxReceiveCount receives, move to a dead-letter queue.

Modules: :mod:`~labsupport.worker.store` (idempotency store),
:mod:`~labsupport.worker.heartbeat`, :mod:`~labsupport.worker.daemon` (the
loop and its signal handling), :mod:`~labsupport.worker.thumbnails` (the
workload), :mod:`~labsupport.worker.status`, :mod:`~labsupport.worker.serve`
(the local endpoint), :mod:`~labsupport.worker.lab` (notebook plumbing) and
:mod:`~labsupport.worker.cli` (the ``sqs-lab`` commands).
"""

from labsupport.worker.daemon import (
    BadJob,
    Job,
    Worker,
    WorkerSettings,
    backoff_seconds,
    install_signal_handlers,
)
from labsupport.worker.heartbeat import Heartbeat
from labsupport.worker.status import STATUS_KEYS, thumbnail_status
from labsupport.worker.store import Claim, Delivery, JobStore
from labsupport.worker.thumbnails import (
    Resources,
    ThumbnailHandler,
    ThumbnailNames,
    ensure_resources,
    submit_jobs,
    thumbnail_worker,
)

__all__ = [
    "STATUS_KEYS",
    "BadJob",
    "Claim",
    "Delivery",
    "Heartbeat",
    "Job",
    "JobStore",
    "Resources",
    "ThumbnailHandler",
    "ThumbnailNames",
    "Worker",
    "WorkerSettings",
    "backoff_seconds",
    "ensure_resources",
    "install_signal_handlers",
    "submit_jobs",
    "thumbnail_status",
    "thumbnail_worker",
]
