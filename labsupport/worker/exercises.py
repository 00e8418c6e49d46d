"""Self-checks for the worker lab's exercises: right or wrong, with a hint.

Each ``check_*`` function takes the learner's answer and returns a
:class:`Verdict`; ``print`` it to read the reply. ``None`` (no answer yet)
is "not answered", never right.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Verdict",
    "check_after_crash",
    "check_dead_letter_count",
    "check_receives_before_dlq",
    "check_stop_bound",
]


@dataclass(frozen=True)
class Verdict:
    """A reply to one answer: ``right`` and a sentence to read."""

    right: bool
    message: str

    def __str__(self) -> str:
        return self.message


_UNANSWERED = Verdict(False, "Not answered yet: put your answer in the cell.")


def check_dead_letter_count(answer: int | None) -> Verdict:
    """Exercise 1: 20 jobs, 4 of them poison, maxReceiveCount 5.

    How many messages does the dead-letter queue hold once all is settled?
    """
    if answer is None:
        return _UNANSWERED
    if answer == 4:
        return Verdict(
            True,
            "Right: only the poison jobs fail every time, "
            "however many receives they are allowed.",
        )
    return Verdict(
        False,
        "Not quite. Which jobs fail on every attempt? "
        "maxReceiveCount changes how long they take, not how many.",
    )


def check_receives_before_dlq(answer: int | None) -> Verdict:
    """Exercise 2: with maxReceiveCount 3, how many times does a worker get a
    poison job before the message is moved to the dead-letter queue?"""
    if answer is None:
        return _UNANSWERED
    if answer == 3:
        return Verdict(
            True,
            "Right: three receives; the move happens on the "
            "next receive attempt, which does not hand it out.",
        )
    return Verdict(
        False,
        "Not quite. Look at the receive_count column of the "
        "failed deliveries of one poison job.",
    )


def check_stop_bound(answer: float | None) -> Verdict:
    """Exercise 3: a worker polls with ``--wait-time 10``; each job takes 4 s.

    It gets SIGTERM. At most how many seconds until it exits (ignoring the
    time requests take)?
    """
    if answer is None:
        return _UNANSWERED
    if abs(answer - 10) < 1e-9:
        return Verdict(
            True,
            "Right: 10 s. In a long poll it waits for the poll "
            "to end (10 s) and releases what came back unstarted; "
            "in a job it finishes the job (4 s). Never both.",
        )
    if abs(answer - 14) < 1e-9:
        return Verdict(
            False,
            "Safe, but not tight: after the signal, can the "
            "worker still start a job that a poll returned?",
        )
    return Verdict(
        False,
        "Not quite. The worker finishes what it is doing: "
        "either the long poll it is in, or the job it holds.",
    )


def check_after_crash(answer: str | None) -> Verdict:
    """Exercise 4: a worker finished a job, marked it done, and was killed
    (SIGKILL) before deleting the message. The message returns. What does the
    next worker do? (a) redo the job, (b) delete the message without redoing
    it, (c) move it to the dead-letter queue."""
    if answer is None:
        return _UNANSWERED
    if answer.strip().lower() in {"b", "(b)"}:
        return Verdict(
            True,
            "Right: the store says the job is done, so the "
            "delivery is a duplicate: acknowledged, not redone.",
        )
    return Verdict(
        False,
        "Not quite. What does the job store answer when the "
        "next worker claims that job?",
    )
