"""Clocks: where the kit's timestamps and waits come from.

A connection carries a clock. On moto, an endpoint or AWS it is the wall
clock. The ``sim`` backend uses a :class:`VirtualClock` that only moves when
the model says time passes (a request round trip, a long-poll wait, a sleep
taken through the clock), so an experiment that waits out a 30-second
visibility timeout finishes in milliseconds and gives the same numbers every
time. Helpers must therefore sleep and read time through ``conn.clock``,
never through :mod:`time` directly.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["VIRTUAL_EPOCH", "Clock", "VirtualClock", "WallClock"]

# 2026-01-01T00:00:00Z: virtual runs start here so their timestamps look real
# and are the same on every run.
VIRTUAL_EPOCH = 1_767_225_600.0


@runtime_checkable
class Clock(Protocol):
    """What the kit needs of a clock. Times are seconds since the Unix epoch."""

    def now(self) -> float:
        """The current time, in seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...


class WallClock:
    """Real time: :func:`time.time` and :func:`time.sleep`."""

    virtual = False

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "WallClock()"


class VirtualClock:
    """Time that moves only when told to; thread-safe.

    ``sleep`` returns at once after moving the clock forward. Several threads
    sharing one virtual clock each move it forward, so their sleeps add up
    rather than overlap: virtual time is a model of time, not a scheduler.
    """

    virtual = True

    def __init__(self, start: float = VIRTUAL_EPOCH) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards); return the new time."""
        with self._lock:
            if seconds > 0:
                self._now += seconds
            return self._now

    def advance_to(self, when: float) -> float:
        """Move forward to ``when`` if that is later; return the new time."""
        with self._lock:
            if when > self._now:
                self._now = when
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:.3f})"
