"""The model's parameters and the three presets.

Every figure that shapes the model's behaviour is a field of :class:`SimParams`
and can be overridden by name (``open_sim(preset="realistic", rtt_median_ms=5)``).

Calibrated versus assumed:
    The latency figures of the ``realistic`` preset are calibrated to published
    measurements (request-response a bit under 20 ms from EC2; p95 send
    latency 48-50 ms and p95 send-to-receive 94-302 ms with long polling, from
    the softwaremill mqperf article; see ``docs/model.md``). AWS publishes no
    rate for duplicates, reordering or false empties ("rare"): every rate
    below that drives them (``delete_miss_rate``, the server layout, the
    propagation spread) is an assumption chosen so that the effects exist and
    stay small, not a measurement.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from labsupport.errors import ConfigError

__all__ = ["MAX_SERVERS", "PRESETS", "SimConfigError", "SimParams", "make_params"]


class SimConfigError(ConfigError):
    """The sim backend was given an unknown preset or parameter, or a bad value."""


@dataclass(frozen=True)
class SimParams:
    """What the model does, in numbers. Times in milliseconds unless named ``_s``.

    Attributes:
        description: one line saying what the preset is for.
        exaggerated: True when rates are raised far above the real service's,
            so effects show in a few hundred messages (the ``classroom`` preset).
        servers: storage servers per standard queue.
        replicas: servers each standard message is stored on (at most ``servers``).
        short_poll_sample: servers a short poll (WaitTimeSeconds=0) looks at.
        server_weight_skew: how unevenly short polls pick servers; server ``i``
            has weight ``(i + 1) ** -skew`` (0 = uniform).
        rtt_median_ms, rtt_sigma: request round trip, lognormal (median, and the
            sigma of its logarithm); half is counted before the service acts on
            the request, half after.
        propagation_median_ms, propagation_sigma: delay between the service
            accepting a message and the message being receivable, lognormal.
            Drawn per message: this jitter is where reordering comes from.
        delete_miss_rate: chance a DeleteMessage misses a replica, so the
            message comes back once its visibility timeout ends (assumption).
        throttle_rate: chance a request is answered RequestThrottled (fault).
        internal_error_rate: chance a request fails with InternalError (500) or
            ServiceUnavailable (503), half each (fault).
        timeout_rate: chance a request times out on the client side (fault).
        lost_answer_share: share of those timeouts where the service did act on
            the request and only the answer was lost (a retried send then
            enqueues a second copy).
        batch_entry_failure_rate: chance each entry of a SendMessageBatch,
            DeleteMessageBatch or ChangeMessageVisibilityBatch fails on the
            service side (``SenderFault`` false, a retryable code) (fault).

    Raises:
        SimConfigError: a value of the wrong type (``servers="8"``), not
            finite (NaN, infinity) or out of range; the message names the
            parameter, the allowed range and the value.

    Limitations:
        The rates of duplicates, reordering and false empties are assumptions;
        AWS does not publish them. FIFO queues ignore the server layout (they
        see every message at once) and are not throttled at 300 TPS.
    """

    description: str = ""
    exaggerated: bool = False
    servers: int = 8
    replicas: int = 3
    short_poll_sample: int = 3
    server_weight_skew: float = 0.5
    rtt_median_ms: float = 18.0
    rtt_sigma: float = 0.55
    propagation_median_ms: float = 12.0
    propagation_sigma: float = 0.9
    delete_miss_rate: float = 0.001
    throttle_rate: float = 0.0
    internal_error_rate: float = 0.0
    timeout_rate: float = 0.0
    lost_answer_share: float = 0.5
    batch_entry_failure_rate: float = 0.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _check_field(field.name, str(field.type), getattr(self, field.name))
        if self.replicas > self.servers or self.short_poll_sample > self.servers:
            raise SimConfigError(
                f"Invalid server layout: replicas ({self.replicas}) and "
                f"short_poll_sample ({self.short_poll_sample}) must be at most "
                f"servers ({self.servers})."
            )

    @property
    def faults_enabled(self) -> bool:
        """True when any fault rate is above zero."""
        return (
            self.throttle_rate > 0
            or self.internal_error_rate > 0
            or self.timeout_rate > 0
            or self.batch_entry_failure_rate > 0
        )


MAX_SERVERS = 1_000  # each server is a pair of heaps per queue


def _check_field(name: str, kind: str, value: Any) -> None:
    """Raise SimConfigError unless ``value`` suits the field ``name`` of type
    ``kind`` ("str", "bool", "int" or "float"): type, finiteness and range."""
    if kind == "str":
        ok, allowed = isinstance(value, str), "text"
    elif kind == "bool":
        ok, allowed = isinstance(value, bool), "True or False"
    elif kind == "int":
        allowed = f"a whole number from 1 to {MAX_SERVERS:,}"
        ok = _is_int(value) and 1 <= value <= MAX_SERVERS
    elif name.endswith(("_rate", "_share")):
        allowed = "a probability from 0 to 1"
        ok = _is_number(value) and 0.0 <= value <= 1.0
    else:
        allowed = "a finite number of 0 or more"
        ok = _is_number(value) and value >= 0
    if not ok:
        raise SimConfigError(
            f"Invalid sim parameter {name}: must be {allowed}; got {value!r}."
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not NaN, not an infinity)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


PRESETS: dict[str, SimParams] = {
    "realistic": SimParams(
        description=(
            "Calibrated latencies (about 20 ms per request, p95 send-to-receive "
            "of a few hundred ms); rare duplicates and reordering at assumed rates."
        ),
    ),
    "classroom": SimParams(
        description=(
            "EXAGGERATED rates so duplicates, false empties and reordering show "
            "within 100-200 messages; not what the real service does."
        ),
        exaggerated=True,
        short_poll_sample=2,
        server_weight_skew=1.0,
        rtt_sigma=0.8,
        propagation_median_ms=40.0,
        propagation_sigma=1.2,
        delete_miss_rate=0.04,
    ),
    "ideal": SimParams(
        description=(
            "In order, exactly once, no latency, no false empties: the behaviour "
            "of moto, useful as a baseline."
        ),
        servers=1,
        replicas=1,
        short_poll_sample=1,
        server_weight_skew=0.0,
        rtt_median_ms=0.0,
        rtt_sigma=0.0,
        propagation_median_ms=0.0,
        propagation_sigma=0.0,
        delete_miss_rate=0.0,
    ),
}


def make_params(preset: str = "realistic", **overrides: Any) -> SimParams:
    """The preset's parameters with ``overrides`` applied by name.

    Raises:
        SimConfigError: unknown preset, unknown parameter name or invalid value.
    """
    if preset not in PRESETS:
        raise SimConfigError(
            f"Unknown sim preset {preset!r}: the preset must be one of "
            f"{', '.join(sorted(PRESETS))}."
        )
    known = {field.name for field in dataclasses.fields(SimParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SimConfigError(
            f"Unknown sim parameter {', '.join(unknown)}: parameters are "
            f"{', '.join(sorted(known))}."
        )
    return dataclasses.replace(PRESETS[preset], **overrides)
