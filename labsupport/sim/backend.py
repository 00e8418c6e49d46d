"""``connect("sim")``: a boto3 SQS client answered by a seeded in-process model."""

from __future__ import annotations

import logging
from typing import Any

from labsupport.backends.connection import Connection, client_config, fake_session
from labsupport.sim.hook import attach
from labsupport.sim.model import SimModel

__all__ = ["open_sim"]

logger = logging.getLogger(__name__)


def open_sim(
    region: str = "us-east-1",
    seed: int = 0,
    preset: str | None = "realistic",
    realtime: bool = False,
    **overrides: Any,
) -> Connection:
    """Open a connection whose genuine boto3 client talks to a :class:`SimModel`.

    Args:
        region: region of the client and of queue URLs and ARNs.
        seed: seeds every random choice; same seed and calls, same results.
        preset: "realistic" (default; None means the same), "classroom"
            (exaggerated) or "ideal".
        realtime: use the wall clock instead of the virtual one.
        **overrides: any :class:`~labsupport.sim.params.SimParams` field.

    The connection's clock is the model's (virtual unless ``realtime``);
    ``conn.details["model"]`` is the model, for ``.stats()``.

    Raises:
        SimConfigError: unknown preset, unknown parameter or bad value (a
            :class:`~labsupport.errors.ConfigError`).
    """
    preset = preset or "realistic"
    model = SimModel(
        seed=seed, preset=preset, realtime=realtime, region=region, **overrides
    )
    client = fake_session(region).client("sqs", config=client_config())
    detach = attach(client, model)
    conn = Connection(
        backend="sim",
        client=client,
        clock=model.clock,
        region=region,
        session=None,
        details={"model": model, "preset": preset, "seed": seed},
    )
    conn.add_closer(detach)
    logger.info("sim backend ready (preset %s, seed %s)", preset, seed)
    return conn
