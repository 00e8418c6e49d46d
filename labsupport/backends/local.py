"""Offline backends: moto in-process, moto as a loopback server, any endpoint."""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from labsupport.backends.connection import Connection, client_config, fake_session
from labsupport.errors import BackendError, ConfigError

__all__ = ["MotoServer", "open_endpoint", "open_moto", "open_moto_server"]

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"


def open_moto(region: str = DEFAULT_REGION) -> Connection:
    """moto in-process: every boto3 call is answered inside this process.

    Limitations: moto keeps one shared state per process, so two moto
    connections see each other's queues (each deletes only its own). moto
    delivers in order, exactly once and at once.
    """
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    session = fake_session(region)
    client = session.client("sqs", config=client_config())
    conn = Connection(backend="moto", client=client, region=region, session=session)
    conn.add_closer(mock.stop)
    return conn


class MotoServer:
    """A WSGI app (moto's, by default) served on a loopback port by a thread.

    ``port=0`` takes a free port. Per-request log lines are dropped, so they
    do not fill a notebook or a terminal. Stop it with :meth:`stop`, or use
    it as a context manager.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, app: Any = None) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        if app is None:
            app = DomainDispatcherApplication(create_backend_app)
        if (
            isinstance(port, bool)
            or not isinstance(port, int)
            or not 0 <= port <= 65535
        ):
            raise ConfigError(
                f"Invalid port: must be a whole number from 0 to 65535 "
                f"(0 = any free port); got {port!r}."
            )
        # werkzeug exits the process when it cannot bind, so try the port first.
        _check_port_free(host, port)
        self._server = make_server(
            host, port, app, threaded=True, request_handler=QuietHandler
        )
        self.host = host
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"server-{self.port}", daemon=True
        )

    def start(self, timeout: float = 10.0) -> MotoServer:
        """Start serving and return once the server answers HTTP."""
        self._thread.start()
        wait_until_answers(self.url, timeout)
        logger.info("server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise BackendError(
                f"Cannot start a server on {host}:{port}: {err.strerror}. "
                "Choose another port, or 0 for any free one."
            ) from err


def wait_until_answers(url: str, timeout: float) -> None:
    """Poll ``url`` until any HTTP answer comes back, or raise BackendError."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # an HTTP error is an answer: the server is up
        except OSError as err:
            last = err
            time.sleep(0.05)
    raise BackendError(f"The server at {url} did not answer within {timeout} s: {last}")


def open_moto_server(region: str = DEFAULT_REGION, port: int = 0) -> Connection:
    """moto's server on a free loopback port, stopped when the connection closes.

    Other processes reach the same queues through ``conn.endpoint_url``.
    """
    server = MotoServer(port=port).start()
    conn = open_endpoint(server.url, region=region)
    conn.backend = "moto-server"
    conn.details["server"] = server
    conn.add_closer(server.stop)
    return conn


def open_endpoint(
    endpoint_url: str | None = None, region: str = DEFAULT_REGION
) -> Connection:
    """Any SQS-compatible endpoint (a moto server, ElasticMQ, LocalStack).

    Fake credentials are used: local emulators accept any.
    """
    if not endpoint_url:
        raise ConfigError(
            "The endpoint backend needs endpoint_url, for example "
            "http://127.0.0.1:5000 (a running moto server)."
        )
    if not isinstance(endpoint_url, str) or not endpoint_url.startswith(
        ("http://", "https://")
    ):
        raise ConfigError(
            f"Invalid endpoint_url: must start with http:// or https://; "
            f"got {endpoint_url!r}."
        )
    session = fake_session(region)
    client = session.client("sqs", endpoint_url=endpoint_url, config=client_config())
    return Connection(
        backend="endpoint",
        client=client,
        region=region,
        endpoint_url=endpoint_url,
        session=session,
    )
