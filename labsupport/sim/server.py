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
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from labsupport.backends.local import MotoServer
from labsupport.sim.errors import SqsError
from labsupport.sim.model import SimModel
from labsupport.sim.wire import error_response, handle_request

__all__ = ["SimServer", "make_wsgi_app"]

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi_app(model: SimModel) -> WsgiApp:
    """A WSGI app answering SQS JSON requests with ``model``.

    For hosting the model in another server (``sqs-lab serve --backend sim``).
    Queue URLs in answers point at the host the request was sent to
    (``http://<Host header>/123456789012/<name>``). Give it a real-time model
    (``SimModel(realtime=True)``) so long polls wait in wall time.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "GET":  # a readiness probe
            status, headers = 200, {"Content-Type": "text/plain"}
            payload = b"labsupport sim server\n"
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            status, headers, payload = _answer(
                model, environ.get("HTTP_X_AMZ_TARGET"), body, _base(environ)
            )
        headers = dict(headers, **{"Content-Length": str(len(payload))})
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [payload]

    return app


def _answer(
    model: SimModel, target: str | None, body: bytes, base_url: str
) -> tuple[int, dict[str, str], bytes]:
    try:
        return handle_request(model, target, body, base_url=base_url)
    except Exception as err:  # a model bug must not kill the serving thread
        logger.exception("sim server: request failed")
        return error_response(SqsError("InternalError", f"The model failed: {err}"))


def _base(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


class SimServer(MotoServer):
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
        super().__init__(host, port, make_wsgi_app(self.model))
