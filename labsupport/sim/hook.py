"""Putting the model behind a genuine boto3 client, through botocore events.

:func:`attach` registers a ``before-send`` handler on one client: botocore
builds, signs and serialises every request as usual, the handler answers it
from the model instead of the network, and botocore parses the answer, so
client-side validation, retries and error classes are the real ones.

:class:`mock_sim` does the same for every client made while it is active,
the way moto's ``mock_aws`` does: a handler added to botocore's built-in
handlers (so every new session gets it) that routes SQS requests to the
active model and lets every other service pass through untouched.

Limitations:
    Sessions created before the first ``mock_sim`` was entered do not get the
    built-in handler; boto3's default session is patched when it exists. If
    moto's ``mock_aws`` is active at the same time, moto still sees each SQS
    request (and keeps its own copy of the queues) but the model's answer is
    the one returned. botocore's retry back-off sleeps
    in wall time, even on the virtual clock.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError

from labsupport.sim.model import SimModel
from labsupport.sim.wire import handle_request

__all__ = ["SimHandler", "attach", "mock_sim"]

EVENT = "before-send.sqs"
DEFAULT_READ_TIMEOUT_S = 30.0


class _Body(io.BytesIO):
    """A response body botocore can stream."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        if data:
            yield data


class SimHandler:
    """A before-send handler answering SQS requests from a model.

    ``read_timeout`` (seconds) is what an injected timeout costs on the
    virtual clock.
    """

    def __init__(self, model: SimModel, read_timeout: float = DEFAULT_READ_TIMEOUT_S):
        self.model = model
        self.read_timeout = read_timeout

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        return answer(self.model, request, self.read_timeout)


def answer(
    model: SimModel, request: AWSPreparedRequest, read_timeout: float
) -> AWSResponse:
    """The model's HTTP response to a prepared botocore request.

    Raises:
        ReadTimeoutError: an injected timeout; with ``lost_answer_share`` the
            model acted on the request before the answer was lost.
    """
    target = request.headers.get("X-Amz-Target")
    if isinstance(target, bytes):
        target = target.decode("ascii")
    timeout = model.draw_timeout()
    if timeout == "before":
        model.advance(read_timeout)
        raise ReadTimeoutError(endpoint_url=request.url)
    status, headers, body = handle_request(model, target, request.body)
    if timeout == "after":
        model.advance(read_timeout)
        raise ReadTimeoutError(endpoint_url=request.url)
    return AWSResponse(request.url, status, headers, _Body(body))


def attach(client: Any, model: SimModel) -> Callable[[], None]:
    """Answer every request of the boto3 SQS ``client`` from ``model``.

    Returns a function that detaches the model again (the client then talks
    to its endpoint as before). Side effect: registers an event handler on
    the client.
    """
    timeout = client.meta.config.read_timeout or DEFAULT_READ_TIMEOUT_S
    handler = SimHandler(model, float(timeout))
    unique_id = f"labsupport-sim-{id(handler)}"
    client.meta.events.register_first(EVENT, handler, unique_id=unique_id)

    def detach() -> None:
        client.meta.events.unregister(EVENT, handler, unique_id=unique_id)

    return detach


class _Router:
    """The built-in handler behind mock_sim: sends SQS requests to the newest
    active model, or lets them through when none is active."""

    def __init__(self) -> None:
        self.models: list[SimModel] = []
        self.lock = threading.Lock()
        self.installed = False

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        with self.lock:
            model = self.models[-1] if self.models else None
        if model is None:
            return None
        return answer(model, request, DEFAULT_READ_TIMEOUT_S)

    def install(self) -> None:
        with self.lock:
            if self.installed:
                return
            from botocore.handlers import BUILTIN_HANDLERS

            # First, so the model's answer wins over moto's stubber if both run.
            BUILTIN_HANDLERS.insert(0, (EVENT, self))
            import boto3

            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION._session.register(EVENT, self)
            self.installed = True


_ROUTER = _Router()


class mock_sim(contextlib.ContextDecorator):
    """Send every boto3 SQS client's requests to one seeded model.

    Use as ``with mock_sim(seed=1) as model:`` or as a decorator (each call of
    the decorated function gets a fresh model). Arguments as for
    :class:`~labsupport.sim.model.SimModel`. Other services pass through.
    """

    def __init__(self, seed: int = 0, preset: str = "realistic", **overrides: Any):
        self.seed = seed
        self.preset = preset
        self.overrides = overrides
        self.model: SimModel | None = None

    def __enter__(self) -> SimModel:
        _ROUTER.install()
        model = SimModel(seed=self.seed, preset=self.preset, **self.overrides)
        self.model = model
        with _ROUTER.lock:
            _ROUTER.models.append(model)
        return model

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _ROUTER.lock:
            if self.model in _ROUTER.models:
                _ROUTER.models.remove(self.model)
