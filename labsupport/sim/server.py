"""The model as an HTTP server on loopback, for clients in other processes.

``boto3.client("sqs", endpoint_url=server.url, ...)`` in any process on this
machine reaches the model. Queue URLs point at the server itself
(``http://127.0.0.1:<port>/123456789012/<name>``), as with moto's server, so
an SDK that sends requests to the QueueUrl stays on this machine. The server
runs the model in real-time mode: its clock is the wall clock, a long poll
really waits (without holding the model's lock, so other requests go on),
and messages become receivable after their drawn propagation delay in real
time.

Limitations:
    Round trips are those of the loopback network, not drawn; injected
    timeouts (``timeout_rate``) apply only to the in-process hook.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from labsupport.errors import BackendError
from labsupport.sim.errors import SqsError
from labsupport.sim.model import SimModel
from labsupport.sim.wire import error_response, handle_request

__all__ = ["SimServer", "make_wsgi_app"]

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Handler(BaseHTTPRequestHandler):
    server: _Http
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{self.server.host}:{self.server.port}"
        try:
            status, headers, payload = handle_request(
                self.server.model,
                self.headers.get("X-Amz-Target"),
                body,
                base_url=f"http://{host}",
            )
        except Exception as err:  # a model bug must not kill the worker thread
            logger.exception("sim server: request failed")
            status, headers, payload = error_response(
                SqsError("InternalError", f"The model failed: {err}")
            )
        self._reply(status, headers, payload)

    def do_GET(self) -> None:
        self._reply(200, {"Content-Type": "text/plain"}, b"labsupport sim server\n")

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line per request on stderr."""


class _Http(ThreadingHTTPServer):
    daemon_threads = True
    model: SimModel
    host: str
    port: int


def make_wsgi_app(model: SimModel) -> WsgiApp:
    """A WSGI app answering SQS JSON requests with ``model``.

    For hosting the model in another server (``sqs-lab serve --backend sim``).
    Queue URLs in answers point at the host the request was sent to
    (``http://<Host header>/123456789012/<name>``). Give it a real-time model
    (``SimModel(realtime=True)``) so long polls wait in wall time.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, headers, payload = handle_request(
            model, environ.get("HTTP_X_AMZ_TARGET"), body, base_url=_base(environ)
        )
        headers = dict(headers, **{"Content-Length": str(len(payload))})
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [payload]

    return app


def _base(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


class SimServer:
    """Serve a real-time :class:`SimModel` over HTTP on a loopback port.

    ``port=0`` takes a free port. Use as a context manager, or call
    :meth:`start` and :meth:`stop`. ``.model`` is the model, for ``stats()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        preset: str = "realistic",
        **overrides: Any,
    ) -> None:
        self.model = SimModel(seed=seed, preset=preset, realtime=True, **overrides)
        try:
            self._http = _Http((host, port), _Handler)
        except OSError as err:
            raise BackendError(
                f"Cannot start the sim server on {host}:{port}: {err}. Choose "
                "another port, or 0 for any free one."
            ) from err
        self.host = host
        self.port: int = self._http.server_address[1]
        self._http.model = self.model
        self._http.host, self._http.port = host, self.port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, name=f"sim-{self.port}", daemon=True
        )

    def start(self, timeout: float = 10.0) -> SimServer:
        """Start serving; return once the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    break
            except OSError as err:
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"The sim server at {self.url} did not answer within "
                        f"{timeout} s: {err}"
                    ) from err
                time.sleep(0.02)
        logger.info("sim server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the serving thread to end."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
