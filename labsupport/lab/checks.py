"""Self-checks for the lab exercises: one function per exercise.

A student calls ``checks.lab02_ex1(my_answer, ...)`` and gets a
:class:`Verdict` back: it shows as one line in the notebook ("Right: ..."
or "Not yet: ... Hint: ..."), is truthy when the answer is right, and is
never an exception. ``None`` means "not answered yet". Where an answer
depends on a run, the check takes the run's table and works the expected
value out from it, with a tolerance where rounding is expected.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from labsupport import metrics
from labsupport.lab.costs import STANDARD_PRICE_PER_MILLION
from labsupport.lab.polling import polls_until_last
from labsupport.lab.verdict import UNANSWERED as _UNANSWERED
from labsupport.lab.verdict import Verdict
from labsupport.lab.verdict import as_number as _number
from labsupport.lab.verdict import check_choice as _check_choice
from labsupport.lab.verdict import check_whole as _check_whole
from labsupport.lab.verdict import is_stub as _stub
from labsupport.lab.verdict import right as _right
from labsupport.lab.verdict import unwritten as _unwritten
from labsupport.lab.verdict import wrong as _wrong
from labsupport.limits import BATCH_MAX_BYTES, BATCH_MAX_ENTRIES, MAX_MESSAGE_BYTES

__all__ = [
    "Verdict",
    "lab00_ex1",
    "lab00_ex2",
    "lab01_ex1",
    "lab01_ex2",
    "lab01_ex3",
    "lab02_ex1",
    "lab02_ex2",
    "lab02_ex3",
    "lab03_ex1",
    "lab03_ex2",
    "lab03_ex3",
    "lab04_ex1",
    "lab04_ex2",
    "lab04_ex3",
    "lab05_ex1",
    "lab06_ex1",
    "lab06_ex2",
    "lab06_ex3",
    "lab06_ex4",
]

LAB00_BODIES = ("alpha", "beta", "gamma")
LAB01_SMALL = (95, 100)  # (messages, bytes each)
LAB01_LARGE = (25, 300_000)
LAB03_SEQUENCE = (0, 3, 1, 2, 5, 4)
LAB04_MAX_RECEIVE_COUNT = 3
LAB04_SEND_TIMES_S = (0, 200, 301)
LONG_POLL_WAIT_S = 20


# -- lab 00 -----------------------------------------------------------------------


def lab00_ex1(answer: Any) -> Verdict:
    """The largest message SQS accepts, in bytes."""
    hints = {
        262_144: "256 KiB was the limit until August 2025; it is now 1 MiB.",
        1_000_000: "a MiB is 2**20 bytes, not a million.",
        1_048_575: "the limit itself is allowed: 'at most', not 'less than'.",
    }
    return _check_whole(answer, MAX_MESSAGE_BYTES, hints)


def lab00_ex2(bodies: Any) -> Verdict:
    """The bodies received after sending alpha, beta and gamma to a new queue."""
    if bodies is None:
        return _UNANSWERED
    if isinstance(bodies, str) or not isinstance(bodies, Sequence):
        return _wrong("pass a list of bodies.", "collect msg['Body'] of every message.")
    got = sorted(str(b) for b in bodies)
    if got == sorted(LAB00_BODIES):
        return _right("all three, each once (in whatever order they came).")
    missing = sorted(set(LAB00_BODIES) - set(got))
    if missing:
        return _wrong(
            f"{', '.join(missing)} did not arrive.",
            "one receive call may not return everything: keep receiving, or "
            "long poll (WaitTimeSeconds=20) and ask for up to 10 messages.",
        )
    if len(got) > len(set(got)):
        return _wrong(
            "a body came more than once.",
            "delete each message after reading it, or it comes back when its "
            "visibility timeout ends.",
        )
    return _wrong(
        f"unexpected bodies {sorted(set(got) - set(LAB00_BODIES))}.",
        "send exactly alpha, beta and gamma to a new queue.",
    )


# -- lab 01 -----------------------------------------------------------------------


def _batch_calls(messages: int, size: int) -> int:
    """Calls to send ``messages`` bodies of ``size`` bytes, filling each batch."""
    per_batch = min(BATCH_MAX_ENTRIES, BATCH_MAX_BYTES // size)
    return -(-messages // per_batch)


def lab01_ex1(answer: Any) -> Verdict:
    """SendMessageBatch calls needed for 95 messages of 100 bytes."""
    messages, size = LAB01_SMALL
    hints = {
        9: "the last batch holds the 5 left over: round up.",
        95: "that is one call per message; a batch holds up to 10.",
    }
    return _check_whole(answer, _batch_calls(messages, size), hints)


def lab01_ex2(answer: Any) -> Verdict:
    """SendMessageBatch calls needed for 25 messages of 300,000 bytes."""
    messages, size = LAB01_LARGE
    per_batch = BATCH_MAX_BYTES // size
    hints = {
        -(-messages // BATCH_MAX_ENTRIES): "a batch is also limited to "
        "1,048,576 bytes in total, not only to 10 entries.",
        messages // per_batch: f"{per_batch} per batch leaves one message "
        "over: round up.",
    }
    return _check_whole(answer, _batch_calls(messages, size), hints)


def lab01_ex3(ids: Any, response: Mapping[str, Any]) -> Verdict:
    """The entry Ids worth sending again, from a SendMessageBatch response."""
    if ids is None:
        return _UNANSWERED
    failed = response.get("Failed", [])
    expected = {f["Id"] for f in failed if not f.get("SenderFault", False)}
    sender_faults = {f["Id"] for f in failed if f.get("SenderFault", False)}
    succeeded = {s["Id"] for s in response.get("Successful", [])}
    given = {str(i) for i in ids} if not isinstance(ids, str) else {ids}
    if given == expected:
        return _right(f"retry {', '.join(sorted(expected)) or 'nothing'}.")
    if given & succeeded:
        return _wrong(
            f"{', '.join(sorted(given & succeeded))} already succeeded.",
            "resending a successful entry puts a second copy on the queue.",
        )
    if given & sender_faults:
        return _wrong(
            f"{', '.join(sorted(given & sender_faults))} failed by the sender's fault.",
            "SenderFault true fails the same way again: fix it, do not retry.",
        )
    return _wrong(
        f"{len(expected - given)} entries worth retrying are missing.",
        "take the Ids in response['Failed'] whose SenderFault is false.",
    )


# -- lab 02 -----------------------------------------------------------------------


def lab02_ex1(answer: Any, run: Any) -> Verdict:
    """Dollars per million messages of a run's receive calls while traffic came.

    ``run`` is a result with ``sends``, ``deliveries`` and ``polls``: the
    calls counted are those up to the one that brought the last new message.
    """
    if answer is None:
        return _UNANSWERED
    value = _number(answer)
    if value is None:
        return _wrong(f"{answer!r} is not a number.", "answer in dollars.")
    messages = int(run.sends["sent"].sum())
    per_message = len(polls_until_last(run)) / messages
    expected = per_message * STANDARD_PRICE_PER_MILLION
    with_idle = len(run.polls) / messages * STANDARD_PRICE_PER_MILLION
    if math.isclose(value, expected, rel_tol=0.02):
        return _right(
            f"{per_message:.2f} receive calls per message, about "
            f"${expected:.2f} per million messages."
        )
    if math.isclose(value, with_idle, rel_tol=0.02):
        return _wrong(
            "that counts the calls made after the last message too.",
            "keep only polls_until_last(run): the stop rule added the rest.",
        )
    if math.isclose(value, per_message, rel_tol=0.02):
        return _wrong(
            "that is receive calls per message, not dollars.",
            "multiply by the price of a million requests ($0.40).",
        )
    if math.isclose(value, expected / 1_000_000, rel_tol=0.02):
        return _wrong(
            "that is the cost of one message.", "give it per million messages."
        )
    return _wrong(
        f"{value:g} is not it.",
        "receive calls up to the last message / messages sent, times $0.40 "
        "for a million.",
    )


def lab02_ex2(answer: Any, run: Any) -> Verdict:
    """The share (0 to 1) of a run's receive calls, up to its last new
    message, that came back empty."""
    if answer is None:
        return _UNANSWERED
    value = _number(answer)
    if value is None:
        return _wrong(f"{answer!r} is not a number.", "answer with a share.")
    expected = metrics.empty_receive_ratio(polls_until_last(run))
    every = metrics.empty_receive_ratio(run.polls)
    if math.isclose(value, expected, abs_tol=0.005):
        return _right(f"{expected:.3f} of those receive calls were empty.")
    if math.isclose(value, 100 * expected, abs_tol=0.5):
        return _wrong("that looks like a percentage.", "give a share from 0 to 1.")
    if math.isclose(value, every, abs_tol=0.005):
        return _wrong(
            "that counts the calls made after the last message too.",
            "use polls_until_last(run), then its 'empty' column.",
        )
    return _wrong(
        f"{value:g} is not it.",
        "empty calls in polls_until_last(run) divided by all calls there.",
    )


def lab02_ex3(answer: Any) -> Verdict:
    """Receive calls per hour of one consumer long polling an empty queue."""
    expected = 3600 // LONG_POLL_WAIT_S
    hints = {
        3600: "each long poll on an empty queue waits the full 20 s first.",
        60: "WaitTimeSeconds is at most 20, not 60.",
    }
    return _check_whole(answer, expected, hints)


# -- lab 03 -----------------------------------------------------------------------


def lab03_ex1(answer: Any) -> Verdict:
    """Inversions in the receive order 0, 3, 1, 2, 5, 4."""
    seq = LAB03_SEQUENCE
    neighbours = sum(1 for a, b in itertools.pairwise(seq) if a > b)
    hints = {
        neighbours: "you counted only neighbours out of order; an inversion "
        "is any pair, near or far, in the wrong order.",
    }
    return _check_whole(answer, metrics.count_inversions(seq), hints)


LAB03_CASES: tuple[tuple[int, ...], ...] = (
    (),
    (7,),
    (0, 1, 2, 3),
    (3, 2, 1, 0),
    (1, 1, 0),
    (0, 3, 1, 2, 5, 4),
    (5, 0, 9, 2, 2, 8, 1, 7, 3, 6, 4, 0),
)


def lab03_ex2(count: Callable[[list[int]], Any] | None) -> Verdict:
    """A student's inversion counter, tried on a few sequences."""
    if count is None:
        return _UNANSWERED
    if not callable(count):
        return _wrong("pass the function itself.", "no brackets after its name.")
    if _stub(count, LAB03_CASES):
        return _unwritten(count)
    for case in LAB03_CASES:
        expected = metrics.count_inversions(list(case))
        try:
            got = count(list(case))
        except Exception as err:  # a student's bug is reported, not raised
            return _wrong(
                f"on {list(case)} it raised {type(err).__name__}: {err}.",
                "an empty list and a list of one have no pairs at all.",
            )
        if _number(got) != expected:
            return _wrong(
                f"on {list(case)} it gives {got!r}; the count is {expected}.",
                "two loops, i < j, count seq[i] > seq[j]; equal values are in order.",
            )
    return _right(
        f"it agrees with metrics.count_inversions on {len(LAB03_CASES)} cases."
    )


def lab03_ex3(answer: Any, deliveries: pd.DataFrame, groups: int) -> Verdict:
    """Inversions within message group 1 of a FIFO run with ``groups`` groups."""
    order = [seq for seq in metrics.receive_order(deliveries) if seq % groups == 1]
    expected = metrics.count_inversions(order)
    every = metrics.count_inversions(metrics.receive_order(deliveries))
    hints = {every: "that counts pairs across groups; keep seq % groups == 1 only."}
    return _check_whole(answer, expected, hints)


# -- lab 04 -----------------------------------------------------------------------


def lab04_ex1(answer: Any) -> Verdict:
    """Deliveries of a poison message before a maxReceiveCount of 3 moves it."""
    return _deliveries_before_move(answer, LAB04_MAX_RECEIVE_COUNT)


def _deliveries_before_move(answer: Any, count: int) -> Verdict:
    """A message is delivered maxReceiveCount times before the redrive moves it."""
    nth = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(count, f"{count}th")
    hints = {
        count + 1: f"the move happens on the receive after the {nth} delivery, "
        "and that receive does not hand the message out.",
        count - 1: "maxReceiveCount counts every receive, the first one too.",
    }
    return _check_whole(answer, count, hints)


LAB04_CASES: tuple[tuple[tuple[int, int], ...], ...] = (
    (),
    ((0, 5), (1, 7)),
    ((0, 5), (1, 7), (0, 5)),
    ((2, 1), (1, 1), (2, 1), (1, 1), (3, 4)),
    ((9, 3), (9, 3), (9, 3)),
)


def lab04_ex2(consumer: Callable[[list[tuple[int, int]]], Any] | None) -> Verdict:
    """An idempotent consumer: total of amounts, each message counted once."""
    if consumer is None:
        return _UNANSWERED
    if not callable(consumer):
        return _wrong("pass the function itself.", "no brackets after its name.")
    if _stub(consumer, LAB04_CASES):
        return _unwritten(consumer)
    for case in LAB04_CASES:
        expected = sum(dict(case).values())
        try:
            got = consumer(list(case))
        except Exception as err:  # a student's bug is reported, not raised
            return _wrong(
                f"on {list(case)} it raised {type(err).__name__}: {err}.",
                "an empty list of deliveries totals 0.",
            )
        if _number(got) == expected:
            continue
        if _number(got) == sum(amount for _, amount in case):
            return _wrong(
                f"on {list(case)} it counts a redelivered message again.",
                "remember the seq numbers already processed and skip them.",
            )
        return _wrong(
            f"on {list(case)} it gives {got!r}; the total is {expected}.",
            "add each message's amount once, keyed by its seq number.",
        )
    return _right(f"each message counted once on {len(LAB04_CASES)} cases.")


def lab04_ex3(answer: Any) -> Verdict:
    """Messages enqueued by three sends with one dedup id at 0, 200 and 301 s."""
    window_s = 300
    first = LAB04_SEND_TIMES_S[0]
    kept = 1
    for when in LAB04_SEND_TIMES_S[1:]:
        if when - first >= window_s:
            kept, first = kept + 1, when
    hints = {
        1: "the window is 5 minutes from the send that was accepted: at 301 s "
        "it has ended.",
        3: "inside the 5-minute window a repeat is accepted but not enqueued.",
    }
    return _check_whole(answer, kept, hints)


# -- lab 05 -----------------------------------------------------------------------


def lab05_ex1(answer: Any, results: Mapping[str, Any]) -> Verdict:
    """The label of the run with the most receive-order inversions."""
    if answer is None:
        return _UNANSWERED
    found = {
        label: metrics.count_inversions(metrics.receive_order(r.deliveries))
        for label, r in results.items()
    }
    if answer not in found:
        return _wrong(
            f"{answer!r} is not one of the runs.",
            f"answer with one of {', '.join(repr(k) for k in found)}.",
        )
    top = max(found.values())
    if found[answer] == top:
        return _right(f"{answer} has {top:,} inversions, the most.")
    return _wrong(
        f"{answer} has {found[answer]:,} inversions.",
        "count_inversions(receive_order(deliveries)) for each run.",
    )


# -- lab 06: the worker daemon -------------------------------------------------------

LAB06_JOBS = (20, 4, 5)  # (jobs, poison jobs, maxReceiveCount) of exercise 1
LAB06_MAX_RECEIVE_COUNT = 3
LAB06_WAIT_AND_JOB_S = (10, 4)  # (--wait-time, seconds per job) of exercise 3


def lab06_ex1(answer: Any) -> Verdict:
    """Messages in the DLQ after 20 jobs, 4 poison, maxReceiveCount 5, settle."""
    jobs, poison, max_receive_count = LAB06_JOBS
    hints = {
        jobs - poison: "the good jobs succeed and are deleted; which fail "
        "on every attempt?",
        jobs: "only jobs that fail every time end in the dead-letter queue.",
        max_receive_count: "maxReceiveCount changes how long a poison job "
        "takes to move, not how many move.",
    }
    return _check_whole(answer, poison, hints)


def lab06_ex2(answer: Any) -> Verdict:
    """Deliveries of a poison job before maxReceiveCount 3 moves its message."""
    return _deliveries_before_move(answer, LAB06_MAX_RECEIVE_COUNT)


def lab06_ex3(answer: Any) -> Verdict:
    """Longest stop of a worker on SIGTERM: --wait-time 10, jobs of 4 s."""
    wait_s, job_s = LAB06_WAIT_AND_JOB_S
    hints = {
        wait_s + job_s: "safe, but not tight: after the signal, does the "
        "worker start a job that its last poll returned?",
        job_s: f"the signal may come during a long poll, which lasts up to {wait_s} s.",
    }
    return _check_whole(answer, max(wait_s, job_s), hints)


def lab06_ex4(answer: Any) -> Verdict:
    """What the next worker does with a job marked done but never deleted."""
    hints = {
        "a": "what does the job store answer when the next worker claims that job?",
        "c": "the dead-letter queue takes messages that keep failing; this "
        "job succeeded.",
    }
    return _check_choice(answer, "b", hints)
