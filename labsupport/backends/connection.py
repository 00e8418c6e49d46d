"""The object every backend returns: a boto3 SQS client, a clock, and cleanup."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from labsupport.clock import Clock, WallClock
from labsupport.errors import MessageCapExceeded
from labsupport.limits import check_queue_name

__all__ = ["Connection", "client_config", "new_run_id"]

logger = logging.getLogger(__name__)

# Long polls wait up to 20 s; the read timeout must outlast the longest one or
# botocore gives up (and retries) while the service is still holding the call.
READ_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 5


def client_config(read_timeout: float = READ_TIMEOUT_S) -> Config:
    """botocore settings suited to SQS: long-poll-safe timeout, standard retries."""
    return Config(
        read_timeout=read_timeout,
        connect_timeout=CONNECT_TIMEOUT_S,
        # botocore's max_attempts counts retries; total_max_attempts counts
        # the first try too: 3 in all, standard mode's own default.
        retries={"mode": "standard", "total_max_attempts": 3},
    )


def new_run_id() -> str:
    """A short id naming one run; it appears in queue names and messages."""
    return uuid.uuid4().hex[:8]


@dataclass
class Connection:
    """A boto3 SQS client for one backend, with its clock and its cleanup.

    Use it as a context manager, or call :meth:`close`: every queue made
    through :meth:`create_queue` is deleted and any server the backend started
    is stopped. Queues the connection did not create are never touched.

    Attributes:
        backend: the backend's name ("sim", "moto", "moto-server", ...).
        client: a genuine boto3 SQS client; pass it to helpers or call it.
        clock: where timestamps and waits come from (virtual on ``sim``).
        region: the AWS region name the client uses.
        endpoint_url: the URL requests go to, or None for the default.
        run_id: a short id for this connection's run.
        queue_prefix: put before every queue name this connection creates.
        max_messages: at most this many messages may be sent (None: no cap).
    """

    backend: str
    client: Any
    clock: Clock = field(default_factory=WallClock)
    region: str = "us-east-1"
    endpoint_url: str | None = None
    run_id: str = field(default_factory=new_run_id)
    session: Any = None
    queue_prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    max_messages: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _queues: list[str] = field(default_factory=list, repr=False)
    _sent: int = field(default=0, repr=False)
    _runs: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = field(default=False, repr=False)

    # -- queues ---------------------------------------------------------------

    def create_queue(
        self,
        name: str,
        *,
        fifo: bool | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Create a queue (or find it, if it exists with the same attributes).

        ``fifo=True`` adds ``.fifo`` to the name if missing and sets
        FifoQueue. Returns the queue URL. The queue is deleted on close.
        """
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        full_name = check_queue_name(self.queue_prefix + name, fifo=fifo)
        attrs = dict(attributes or {})
        if full_name.endswith(".fifo"):
            attrs.setdefault("FifoQueue", "true")
        kwargs: dict[str, Any] = {"QueueName": full_name, "Attributes": attrs}
        if self.tags:
            kwargs["tags"] = dict(self.tags)
        url: str = self.client.create_queue(**kwargs)["QueueUrl"]
        with self._lock:
            if url not in self._queues:
                self._queues.append(url)
        logger.info("created queue %s on %s", full_name, self.backend)
        return url

    def delete_queue(self, url: str) -> None:
        """Delete a queue this connection created."""
        self.client.delete_queue(QueueUrl=url)
        with self._lock:
            if url in self._queues:
                self._queues.remove(url)

    @property
    def created_queues(self) -> list[str]:
        """URLs of the queues this connection created and has not deleted."""
        with self._lock:
            return list(self._queues)

    def next_run_id(self) -> str:
        """A run id unique to this connection: ``<run_id>-1``, ``-2``, ...

        Each experiment on a connection takes its own, so its messages, queue
        name and FIFO deduplication ids never meet an earlier run's.
        """
        with self._lock:
            self._runs += 1
            return f"{self.run_id}-{self._runs}"

    # -- other clients ----------------------------------------------------------

    def client_for(self, service: str) -> Any:
        """A boto3 client for another service (S3) at the same place."""
        if self.session is None:
            raise ValueError(f"the {self.backend} backend offers SQS only")
        return self.session.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=client_config(),
        )

    # -- guard rails ----------------------------------------------------------

    def reserve_messages(self, count: int) -> None:
        """Count ``count`` messages against the cap before they are sent."""
        with self._lock:
            if self.max_messages is not None and self._sent + count > self.max_messages:
                raise MessageCapExceeded(self.max_messages, self._sent, count)
            self._sent += count

    def release_messages(self, count: int) -> None:
        """Give back reserved messages that were not sent after all."""
        with self._lock:
            self._sent = max(0, self._sent - count)

    @property
    def messages_sent(self) -> int:
        """Messages counted against the cap so far."""
        return self._sent

    # -- life cycle ---------------------------------------------------------------

    def add_closer(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` on close, after the queues are deleted (last added first)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Delete the queues this connection created and release the backend."""
        if self._closed:
            return
        self._closed = True
        for url in self.created_queues:
            try:
                self.delete_queue(url)
            except Exception as err:  # cleanup must go on to the next queue
                logger.warning("could not delete queue %s: %s", url, err)
        for closer in reversed(self._closers):
            closer()
        logger.info("closed %s connection %s", self.backend, self.run_id)

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def fake_session(region: str) -> Any:
    """A boto3 session with fixed fake credentials: nothing read from ~/.aws."""
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=region,
    )
