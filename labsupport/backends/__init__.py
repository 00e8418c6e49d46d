"""Backends: where the queues live. ``connect(name, ...)`` picks one.

=============  ==============================================================
``sim``        the kit's seeded model of SQS, in-process (the default)
``moto``       moto in-process: the real API, in order, once, at once
``moto-server`` moto's server on a free loopback port, for several processes
``endpoint``   any SQS-compatible URL (a moto server, ElasticMQ, LocalStack)
``aws``        real Amazon SQS, only with an explicit opt-in
=============  ==============================================================
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from labsupport.backends.connection import Connection, client_config
from labsupport.errors import ConfigError, UnknownBackend

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Connection", "client_config", "connect"]

# name -> "module:function"; imported only when used, so moto's import cost
# is paid only by those who pick it.
BACKENDS: dict[str, str] = {
    "sim": "labsupport.sim.backend:open_sim",
    "moto": "labsupport.backends.local:open_moto",
    "moto-server": "labsupport.backends.local:open_moto_server",
    "endpoint": "labsupport.backends.local:open_endpoint",
    "aws": "labsupport.backends.aws:open_aws",
}

DEFAULT_BACKEND = "sim"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def _opener(name: str) -> Callable[..., Connection]:
    if name not in BACKENDS:
        raise UnknownBackend(name, sorted(BACKENDS))
    module_name, func = BACKENDS[name].split(":")
    opener: Callable[..., Connection] = getattr(
        importlib.import_module(module_name), func
    )
    return opener


def _drop_model_options(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    """Let notebook code written for ``sim`` run unchanged on other backends.

    ``seed`` is dropped: the other backends have nothing random to seed.
    ``preset`` may only be "ideal", which is what moto and the other
    emulators behave like; any other preset cannot be had there.
    """
    options = dict(options)
    options.pop("seed", None)
    preset = options.pop("preset", None)
    if preset not in (None, "ideal"):
        raise ConfigError(
            f"Invalid preset for the {backend} backend: the {preset!r} behaviour "
            "exists only on the sim backend (moto and other emulators deliver in "
            "order, once and at once, like the 'ideal' preset)."
        )
    return options


def connect(backend: str = DEFAULT_BACKEND, **options: Any) -> Connection:
    """Open a connection to a backend; use it in a ``with`` block.

    Options by backend (all take ``region``; all accept ``seed``, which
    only ``sim`` uses, so notebook code runs unchanged on any backend):

    - ``sim``: ``seed``, ``preset`` ("realistic", "classroom", "ideal") and
      any model parameter by name.
    - ``moto-server``: ``port`` (0 = any free port).
    - ``endpoint``: ``endpoint_url`` (required).
    - ``aws``: ``allow_aws`` (required unless SQS_LAB_ALLOW_AWS=1),
      ``profile``, ``max_messages`` (the message cap).

    Raises:
        UnknownBackend: the name is not one of :data:`BACKENDS`.
        ConfigError: the backend's settings are missing or wrong, or an
            option is not one the backend takes.
    """
    opener = _opener(backend)
    if backend != "sim":
        options = _drop_model_options(backend, options)
    try:
        inspect.signature(opener).bind(**options)
    except TypeError as err:
        accepted = [
            name
            for name, param in inspect.signature(opener).parameters.items()
            if param.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        raise ConfigError(
            f"Invalid option for the {backend} backend ({err}): it takes "
            f"{', '.join(accepted) or 'no options'}."
        ) from None
    region = options.get("region")
    if region is not None and not (
        isinstance(region, str) and _REGION.fullmatch(region)
    ):
        raise ConfigError(
            f"Invalid region: must be an AWS region name such as us-east-1; "
            f"got {region!r}."
        )
    return opener(**options)
