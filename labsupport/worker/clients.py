"""boto3 clients for a local endpoint that serves both SQS and S3.

Local endpoints take any credentials, so fixed fake ones are used and nothing
is read from ``~/.aws``. S3 is addressed path-style (``URL/bucket/key``),
which works for a loopback IP address and for ``localhost`` alike.

Timeouts are kept short so that a worker facing an endpoint that hangs still
stops within its documented bound:

==============  ==============================================================
client          timeouts and attempts
==============  ==============================================================
``sqs``, ``s3``  connect 2 s, read 5 s, 2 attempts: every ordinary call
``sqs_poll``     connect 2 s, read ``wait_time`` + 5 s, 1 attempt:
                 ReceiveMessage only (the worker's loop polls again itself)
``sqs_once``     connect 2 s, read 3 s, 1 attempt: the calls a stopping
                 worker makes (delete, release)
==============  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from labsupport.backends.connection import fake_session
from labsupport.errors import BackendError, ConfigError
from labsupport.limits import check_wait_time

__all__ = ["LocalClients", "check_endpoint_url", "connection_errors", "local_clients"]

DEFAULT_REGION = "us-east-1"
CONNECT_TIMEOUT_S = 2
CALL_READ_TIMEOUT_S = 5
CALL_ATTEMPTS = 2
POLL_MARGIN_S = 5
ONCE_READ_TIMEOUT_S = 3
_URL_RULE = "http:// or https://, a host, and an optional port from 1 to 65535"


def check_endpoint_url(endpoint_url: str) -> str:
    """Return ``endpoint_url`` if it is a usable http(s) URL, else ConfigError."""
    reason = ""
    try:
        parts = urlsplit(endpoint_url)
        port = parts.port  # raises ValueError when not a number in 0..65535
    except ValueError as err:
        reason = str(err)
    else:
        if parts.scheme not in ("http", "https"):
            reason = "the scheme is not http or https"
        elif not parts.hostname:
            reason = "there is no host"
        elif port == 0:
            reason = "port 0 cannot be reached"
    if reason:
        raise ConfigError(
            f"Invalid endpoint URL: must be {_URL_RULE}; got {endpoint_url!r} "
            f"({reason})."
        )
    return endpoint_url


def _config(read_timeout: float, attempts: int, **extra: Any) -> Config:
    return Config(
        read_timeout=read_timeout,
        connect_timeout=CONNECT_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": attempts},
        **extra,
    )


class LocalClients:
    """An SQS and an S3 client for one endpoint URL (see the module doc).

    Args:
        endpoint_url: ``http(s)://host:port``; checked before any client is
            made (ConfigError).
        region: the region name the clients sign with.
        wait_time: the longest WaitTimeSeconds ``sqs_poll`` is used with.
    """

    def __init__(
        self, endpoint_url: str, region: str = DEFAULT_REGION, wait_time: int = 20
    ) -> None:
        self.endpoint_url = check_endpoint_url(endpoint_url)
        self.wait_time = check_wait_time(wait_time)
        self._session = fake_session(region)
        self.sqs: Any = self._client("sqs", CALL_READ_TIMEOUT_S, CALL_ATTEMPTS)
        self.s3: Any = self._client(
            "s3",
            CALL_READ_TIMEOUT_S,
            CALL_ATTEMPTS,
            s3={"addressing_style": "path"},
        )

    @cached_property
    def sqs_poll(self) -> Any:
        """The SQS client for ReceiveMessage: read timeout outlasts the wait."""
        return self._client("sqs", self.wait_time + POLL_MARGIN_S, 1)

    @cached_property
    def sqs_once(self) -> Any:
        """The SQS client of single short attempts, for a stopping worker."""
        return self._client("sqs", ONCE_READ_TIMEOUT_S, 1)

    def _client(self, service: str, read: float, attempts: int, **extra: Any) -> Any:
        return self._session.client(
            service,
            endpoint_url=self.endpoint_url,
            config=_config(read, attempts, **extra),
        )


def local_clients(
    endpoint_url: str, region: str = DEFAULT_REGION, wait_time: int = 20
) -> LocalClients:
    """Clients for ``endpoint_url``; raises ConfigError on a malformed URL."""
    return LocalClients(endpoint_url, region, wait_time)


@contextmanager
def connection_errors(endpoint_url: str) -> Iterator[None]:
    """Turn "cannot connect to ``endpoint_url``" into a one-line BackendError."""
    try:
        yield
    except (
        EndpointConnectionError,
        ConnectTimeoutError,
        ReadTimeoutError,
        ConnectionClosedError,
    ) as err:
        raise BackendError(
            f"Cannot reach the endpoint {endpoint_url}: {err}. Is "
            "`sqs-lab serve` running there?"
        ) from err
