"""A local endpoint serving SQS and S3 on one loopback port (``sqs-lab serve``).

``moto``: moto's whole server (SQS, S3 and the rest) as one WSGI app.

``sim``: SQS requests (AWS JSON 1.0, header ``X-Amz-Target: AmazonSQS.*``)
go to the kit's SQS model running in real time; every other request (S3)
goes to moto's app, so the thumbnail lab works unchanged against either.

The server listens on 127.0.0.1 only. :class:`LocalEndpoint` runs it in a
thread of this process; :func:`serve_until_signal` is the body of
``sqs-lab serve``.

Limitations: on ``sim`` the model runs in real time (a long poll really
waits); S3 is moto's either way, so only the queue behaves like the model.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TextIO

from labsupport.backends.local import MotoServer
from labsupport.errors import BackendError, ConfigError

__all__ = ["SERVE_BACKENDS", "LocalEndpoint", "make_app", "serve_until_signal"]

logger = logging.getLogger(__name__)

SERVE_BACKENDS = ("moto", "sim")
LOOPBACK = "127.0.0.1"
SQS_TARGET_PREFIX = "AmazonSQS."

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_app(backend: str = "moto", **sim_options: Any) -> WsgiApp:
    """The WSGI app of an endpoint on ``backend`` ("moto" or "sim")."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    if backend not in SERVE_BACKENDS:
        raise ConfigError(
            f"Invalid serve backend: must be one of {', '.join(SERVE_BACKENDS)}; "
            f"got {backend!r}."
        )
    moto_app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    if backend == "moto":
        return moto_app
    return route_sqs(_sim_sqs_app(**sim_options), moto_app)


def route_sqs(sqs_app: WsgiApp, other_app: WsgiApp) -> WsgiApp:
    """A WSGI app sending SQS JSON requests to ``sqs_app``, the rest elsewhere."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(SQS_TARGET_PREFIX):
            return sqs_app(environ, start_response)
        return other_app(environ, start_response)

    return app


def _sim_sqs_app(seed: int = 1, preset: str = "realistic") -> WsgiApp:
    """A WSGI app answering SQS JSON requests with a real-time sim model.

    Queue URLs in its answers point at this endpoint, as moto's do.
    """
    try:
        from labsupport.sim.model import SimModel
        from labsupport.sim.server import make_wsgi_app
    except ImportError as err:
        raise BackendError(
            f"The sim backend cannot be served: {err}. Use --backend moto."
        ) from err
    app: WsgiApp = make_wsgi_app(SimModel(seed=seed, preset=preset, realtime=True))
    return app


class LocalEndpoint(MotoServer):
    """An endpoint on a loopback port, served by a thread of this process.

    Args:
        backend: "moto" or "sim".
        port: the TCP port; 0 takes a free one.
        sim_options: passed to the sim model (seed, preset, ...).
    """

    def __init__(self, backend: str = "moto", port: int = 0, **sim_options: Any):
        super().__init__(LOOPBACK, port, make_app(backend, **sim_options))
        self.backend = backend


def serve_until_signal(
    backend: str = "moto", port: int = 0, out: TextIO | None = None, **sim: Any
) -> int:
    """Serve until SIGINT or SIGTERM; print the URL first (one flushed line).

    Returns 0, the exit status. Must run in the main thread (signals).
    """
    out = out or sys.stdout
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with LocalEndpoint(backend, port, **sim) as endpoint:
            print(endpoint.url, file=out, flush=True)
            while not stopped.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("endpoint stopped")
    return 0
