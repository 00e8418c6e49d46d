"""Lab 06: a worker daemon (the course's worker lab)."""

from __future__ import annotations

import pandas as pd


def ex1(jobs: int = 20, poison: int = 4) -> int:
    """Messages in the dead-letter queue once everything settled.

    Good jobs succeed and are deleted; a poison job fails on every receive
    and moves after maxReceiveCount of them, whatever that count is (it
    changes when a poison message moves, not whether).
    """
    return min(poison, jobs)


def ex2(deliveries: pd.DataFrame) -> int:
    """Deliveries of one poison job before its message moved: the highest
    ApproximateReceiveCount among the failed deliveries of the lab's run."""
    failed = deliveries[deliveries["outcome"] == "failed"]
    return int(failed.groupby("job_key")["receive_count"].max().max())


def ex3(wait_time_s: float = 10, job_s: float = 4) -> float:
    """Longest time from SIGTERM to exit: the worker finishes the long poll it
    is in, or the job it holds, never both (it starts no job after the
    signal)."""
    return max(wait_time_s, job_s)


def ex4() -> str:
    """The job store says the job is done: the delivery is a duplicate, so
    the next worker deletes the message without redoing the job."""
    return "b"
