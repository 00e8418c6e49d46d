"""The heartbeat: keep a message hidden while its job runs.

A received message stays hidden for its visibility timeout. A job that may
run longer than that must extend it, or the message returns and a second
worker starts the same job. :class:`Heartbeat` is a thread that calls
ChangeMessageVisibility every ``interval`` seconds, each time setting the
message's visibility timeout to ``visibility_timeout`` seconds from now,
until the job ends or the lease is lost.

The lease is lost when SQS refuses the extension with ReceiptHandleIsInvalid
or MessageNotInflight (the message was deleted, or returned and was received
again), or InvalidParameterValue (the total would pass the 12-hour limit on a
message's visibility), or when the ``on_beat`` callback returns False (the
worker's claim in the job store was taken over). The heartbeat then stops and
sets :attr:`Heartbeat.lost`. Any other error (a timeout, a dropped
connection) is logged and retried at the next beat.

:meth:`Heartbeat.stop` waits at most ``join_timeout`` seconds for a beat in
progress: against an endpoint that hangs, the worker goes on without it (the
thread is a daemon and ends with the process). Such a late beat may still
extend the visibility after the worker released the message; the message
then returns one visibility timeout later, and is not lost.

Limitations: moto accepts a change of visibility made with any receipt
handle the message ever had, so on moto a lease is lost only once the
message is deleted; the real service refuses an old handle once the message
was received again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["LEASE_LOST_CODES", "Heartbeat"]

logger = logging.getLogger(__name__)

# Error codes that mean "this receipt handle no longer holds the message".
LEASE_LOST_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "AWS.SimpleQueueService.MessageNotInflight",
        "MessageNotInflight",
        "InvalidParameterValue",
    }
)


class Heartbeat:
    """A thread extending one message's visibility timeout at an interval.

    Args:
        sqs: a boto3 SQS client (clients are thread-safe).
        queue_url: the message's queue.
        receipt_handle: the handle of the delivery being worked on.
        visibility_timeout: seconds of visibility each beat asks for.
        interval: seconds between beats; keep it well under
            ``visibility_timeout`` so one late beat does not lose the lease.
        on_beat: called after each successful beat (the worker extends its
            claim in the job store there); returning False means the lease
            is lost.
        join_timeout: the longest :meth:`stop` waits for the thread, seconds.

    Use as a context manager around the job, or call :meth:`start` and
    :meth:`stop`.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        receipt_handle: str,
        *,
        visibility_timeout: int,
        interval: float,
        on_beat: Callable[[], bool] | None = None,
        join_timeout: float = 1.0,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.receipt_handle = receipt_handle
        self.visibility_timeout = visibility_timeout
        self.interval = interval
        self.on_beat = on_beat
        self.join_timeout = join_timeout
        self.beats = 0
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    @property
    def lost(self) -> bool:
        """True once SQS said this receipt handle no longer holds the message."""
        return self._lost.is_set()

    def start(self) -> Heartbeat:
        """Start beating in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating; wait for a beat in progress, at most ``join_timeout`` s."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(self.join_timeout)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def beat(self) -> bool:
        """Extend the visibility once; return False if the lease is lost."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=self.receipt_handle,
                VisibilityTimeout=self.visibility_timeout,
            )
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in LEASE_LOST_CODES:
                logger.warning("lease lost (%s): no more extensions", code)
                self._lost.set()
                return False
            logger.warning("heartbeat failed, will retry: %s", err)
            return True
        except BotoCoreError as err:
            logger.warning("heartbeat failed, will retry: %s", err)
            return True
        self.beats += 1
        if self.on_beat is not None and self.on_beat() is False:
            logger.warning("claim lost in the job store: no more extensions")
            self._lost.set()
            return False
        logger.debug("visibility extended by %s s", self.visibility_timeout)
        return True

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            if not self.beat():
                return
