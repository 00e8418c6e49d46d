"""boto3 clients for a local endpoint that serves both SQS and S3.

Local endpoints take any credentials, so fixed fake ones are used and nothing
is read from ``~/.aws``. S3 is addressed path-style (``URL/bucket/key``),
which works for a loopback IP address and for ``localhost`` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from labsupport.backends.connection import client_config, fake_session
from labsupport.errors import BackendError, ConfigError

__all__ = ["LocalClients", "connection_errors", "local_clients"]

DEFAULT_REGION = "us-east-1"


class LocalClients:
    """An SQS and an S3 client for one endpoint URL."""

    def __init__(self, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
        if not endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(
                "Invalid endpoint URL: must start with http:// or https://; "
                f"got {endpoint_url!r}."
            )
        self.endpoint_url = endpoint_url
        session = fake_session(region)
        self.sqs: Any = session.client(
            "sqs", endpoint_url=endpoint_url, config=client_config()
        )
        s3_config = client_config().merge(Config(s3={"addressing_style": "path"}))
        self.s3: Any = session.client("s3", endpoint_url=endpoint_url, config=s3_config)


def local_clients(endpoint_url: str, region: str = DEFAULT_REGION) -> LocalClients:
    """Clients for ``endpoint_url``; raises ConfigError on a malformed URL."""
    return LocalClients(endpoint_url, region)


@contextmanager
def connection_errors(endpoint_url: str) -> Iterator[None]:
    """Turn "cannot connect to ``endpoint_url``" into a one-line BackendError."""
    try:
        yield
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as err:
        raise BackendError(
            f"Cannot reach the endpoint {endpoint_url}: {err}. Is "
            "`sqs-lab serve` running there?"
        ) from err
