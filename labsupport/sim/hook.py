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
    built-in handler; boto3's default session is patched when it exists.
    Inside ``mock_sim``, if moto's ``mock_aws`` is active at the same time,
    moto still sees each SQS request (botocore calls every before-send
    handler) and keeps its own copy of the queues, though the model's answer
    is the one returned; a client given to :func:`attach` (as
    ``connect("sim")`` does) is taken off moto's handler instead. botocore's
    retry back-off sleeps in wall time, even on the virtual clock.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError

from labsupport.sim.model import SimModel
from labsupport.sim.wire import handle_request

__all__ = ["SimHandler", "attach", "mock_sim"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

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
    # botocore calls every before-send handler and keeps the first answer, so
    # an active moto mock would still act on (and long-poll for) each request
    # the model answers. This client is the model's alone: take moto off it.
    moto_stubber = _moto_stubber()
    if moto_stubber is not None:
        client.meta.events.unregister("before-send", moto_stubber)

    def detach() -> None:
        client.meta.events.unregister(EVENT, handler, unique_id=unique_id)
        if moto_stubber is not None:
            client.meta.events.register("before-send", moto_stubber)

    return detach


def _moto_stubber() -> Any:
    """moto's global before-send handler, if moto has been imported."""
    models = sys.modules.get("moto.core.models")
    return getattr(models, "botocore_stubber", None)


class _Router:
    """The built-in handler behind mock_sim: sends SQS requests to an active
    model, or lets them through when none is active.

    A request goes to the newest model entered by the calling thread, else to
    the newest model entered by any thread (so worker threads started inside
    a ``with mock_sim()`` block reach its model).
    """

    def __init__(self) -> None:
        self._active: list[tuple[int, SimModel]] = []  # (thread id, model)
        self.lock = threading.Lock()
        self.installed = False

    @property
    def models(self) -> list[SimModel]:
        """The active models, oldest first."""
        with self.lock:
            return [model for _, model in self._active]

    def push(self, model: SimModel) -> None:
        """Make ``model`` active for the calling thread (and the fallback)."""
        with self.lock:
            self._active.append((threading.get_ident(), model))

    def pop(self, model: SimModel) -> None:
        """Deactivate ``model`` (the newest entry holding it)."""
        with self.lock:
            for index in range(len(self._active) - 1, -1, -1):
                if self._active[index][1] is model:
                    del self._active[index]
                    return

    def current(self) -> SimModel | None:
        """The model a request from the calling thread goes to, if any."""
        me = threading.get_ident()
        with self.lock:
            for thread, model in reversed(self._active):
                if thread == me:
                    return model
            return self._active[-1][1] if self._active else None

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        model = self.current()
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


class mock_sim:
    """Send every boto3 SQS client's requests to one seeded model.

    Use as ``with mock_sim(seed=1) as model:`` or as a decorator. Every entry
    makes a new model, so each call of a decorated function gets a fresh one,
    also when calls nest (recursion) or run in several threads at once; each
    exit deactivates exactly the model its entry made. Arguments as for
    :class:`~labsupport.sim.model.SimModel`. Other services pass through.

    Attributes:
        model: the model of this thread's innermost active entry, else None.
    """

    def __init__(self, seed: int = 0, preset: str = "realistic", **overrides: Any):
        self.seed = seed
        self.preset = preset
        self.overrides = overrides
        self._local = threading.local()

    def _stack(self) -> list[SimModel]:
        stack: list[SimModel] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @property
    def model(self) -> SimModel | None:
        stack = self._stack()
        return stack[-1] if stack else None

    def __enter__(self) -> SimModel:
        _ROUTER.install()
        model = SimModel(seed=self.seed, preset=self.preset, **self.overrides)
        self._stack().append(model)
        _ROUTER.push(model)
        return model

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _ROUTER.pop(self._stack().pop())

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        """Decorate ``func``: each call runs inside a fresh ``mock_sim``."""

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with mock_sim(self.seed, self.preset, **self.overrides):
                return func(*args, **kwargs)

        return wrapper
