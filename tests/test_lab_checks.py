"""Tests of labsupport.lab.checks: right answers pass, wrong ones get a hint."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd
import pytest

from labsupport.experiment.records import DELIVERY_COLUMNS, POLL_COLUMNS
from labsupport.lab import checks
from labsupport.lab.checks import Verdict


def polls_table(returned: list[int]) -> pd.DataFrame:
    """A polls table with one receive call per entry of ``returned``."""
    rows = [
        {
            "poll": i,
            "start_time": float(i),
            "end_time": i + 0.5,
            "wait_time_s": 0,
            "max_messages": 10,
            "returned": n,
            "empty": n == 0,
        }
        for i, n in enumerate(returned)
    ]
    return pd.DataFrame(rows, columns=POLL_COLUMNS)


def deliveries_table(seqs: list[int]) -> pd.DataFrame:
    """A deliveries table: one poll per delivery, in the order given."""
    rows = [
        {
            "seq": seq,
            "message_id": f"m{seq}",
            "receive_count": 1,
            "receive_time": float(i),
            "poll": i,
            "position": 0,
            "latency_ms": 10.0,
            "deleted": True,
        }
        for i, seq in enumerate(seqs)
    ]
    return pd.DataFrame(rows, columns=DELIVERY_COLUMNS)


@dataclass
class Run:
    deliveries: pd.DataFrame


ALL_CHECKS_WITHOUT_DATA = [
    checks.lab00_ex1,
    checks.lab00_ex2,
    checks.lab01_ex1,
    checks.lab01_ex2,
    checks.lab02_ex3,
    checks.lab03_ex1,
    checks.lab03_ex2,
    checks.lab04_ex1,
    checks.lab04_ex2,
    checks.lab04_ex3,
    checks.lab06_ex1,
    checks.lab06_ex2,
    checks.lab06_ex3,
    checks.lab06_ex4,
]


@pytest.mark.parametrize("check", ALL_CHECKS_WITHOUT_DATA)
def test_none_means_not_answered_yet(check):
    verdict = check(None)

    assert not verdict
    assert verdict.message.startswith("No answer yet")


def test_a_verdict_shows_as_its_message():
    verdict = Verdict(True, "Right: 10.")

    assert repr(verdict) == "Right: 10."
    assert str(verdict) == "Right: 10."
    assert bool(verdict)


# -- whole-number answers: expected values worked out by hand ---------------------


@pytest.mark.parametrize(
    ("check", "right"),
    [
        (checks.lab00_ex1, 1_048_576),  # 1 MiB = 2**20 bytes
        (checks.lab01_ex1, 10),  # 9 full batches of 10, then 5
        (checks.lab01_ex2, 9),  # 3 x 300,000 fit in 1 MiB; 25 / 3 -> 9
        (checks.lab02_ex3, 180),  # 3600 s / 20 s
        (checks.lab03_ex1, 3),  # (3,1), (3,2), (5,4)
        (checks.lab04_ex1, 3),
        (checks.lab04_ex3, 2),  # 0 s kept, 200 s dropped, 301 s kept
        (checks.lab06_ex1, 4),  # the 4 poison jobs, whatever maxReceiveCount
        (checks.lab06_ex2, 3),
        (checks.lab06_ex3, 10),  # the 10 s poll or the 4 s job, never both
    ],
)
def test_right_whole_numbers_are_accepted(check, right):
    assert check(right)
    assert check(str(right))
    assert check(f"{right:,}")


@pytest.mark.parametrize(
    ("check", "wrong", "hint_word"),
    [
        (checks.lab00_ex1, 262_144, "August 2025"),
        (checks.lab00_ex1, 1_000_000, "2**20"),
        (checks.lab01_ex1, 9, "round up"),
        (checks.lab01_ex2, 3, "1,048,576 bytes"),
        (checks.lab01_ex2, 8, "round up"),
        (checks.lab02_ex3, 3600, "20 s"),
        (checks.lab03_ex1, 2, "neighbours"),
        (checks.lab04_ex1, 4, "third delivery"),
        (checks.lab04_ex3, 1, "5 minutes"),
        (checks.lab04_ex3, 3, "not enqueued"),
        (checks.lab03_ex1, 17, "step by step"),
        (checks.lab06_ex1, 16, "good jobs"),
        (checks.lab06_ex1, 20, "fail every time"),
        (checks.lab06_ex1, 5, "how long"),
        (checks.lab06_ex2, 4, "third delivery"),
        (checks.lab06_ex3, 14, "not tight"),
    ],
)
def test_known_wrong_numbers_get_their_hint(check, wrong, hint_word):
    verdict = check(wrong)

    assert not verdict
    assert verdict.message.startswith("Not yet")
    assert hint_word in verdict.message


@pytest.mark.parametrize("answer", ["ten", True, [10], float("nan")])
def test_non_numbers_are_rejected_without_raising(answer):
    verdict = checks.lab01_ex1(answer)

    assert not verdict
    assert "Hint:" in verdict.message


# -- lab 00 -------------------------------------------------------------------------


def test_lab00_ex2_accepts_the_three_bodies_in_any_order():
    assert checks.lab00_ex2(["gamma", "alpha", "beta"])


@pytest.mark.parametrize(
    ("bodies", "hint_word"),
    [
        (["alpha", "beta"], "keep receiving"),
        (["alpha", "beta", "gamma", "beta"], "delete"),
        (["alpha", "beta", "gamma", "delta"], "unexpected"),
        ("alpha", "list"),
    ],
)
def test_lab00_ex2_says_what_is_wrong(bodies, hint_word):
    verdict = checks.lab00_ex2(bodies)

    assert not verdict
    assert hint_word in verdict.message


# -- lab 01 -------------------------------------------------------------------------

PARTIAL = {
    "Successful": [{"Id": "m0"}, {"Id": "m1"}],
    "Failed": [
        {"Id": "m2", "SenderFault": False, "Code": "InternalError"},
        {"Id": "m3", "SenderFault": True, "Code": "InvalidMessageContents"},
        {"Id": "m4", "SenderFault": False, "Code": "ServiceUnavailable"},
    ],
}


def test_lab01_ex3_accepts_the_retryable_ids_as_list_or_set():
    assert checks.lab01_ex3(["m4", "m2"], PARTIAL)
    assert checks.lab01_ex3({"m2", "m4"}, PARTIAL)


@pytest.mark.parametrize(
    ("ids", "hint_word"),
    [
        (["m0", "m2", "m4"], "second copy"),
        (["m2", "m3", "m4"], "SenderFault true"),
        (["m2"], "missing"),
    ],
)
def test_lab01_ex3_explains_a_wrong_choice(ids, hint_word):
    verdict = checks.lab01_ex3(ids, PARTIAL)

    assert not verdict
    assert hint_word in verdict.message


def test_lab01_ex3_with_nothing_failed_wants_nothing():
    assert checks.lab01_ex3([], {"Successful": [{"Id": "a"}], "Failed": []})


# -- lab 02 -------------------------------------------------------------------------


@dataclass
class PollingRun:
    sends: pd.DataFrame
    deliveries: pd.DataFrame
    polls: pd.DataFrame


def trickle_run() -> PollingRun:
    """25 messages; 8 receive calls, the last new message on call 5.

    Calls 0-5 return 0, 10, 0, 10, 0, 5 messages (one new message each
    time a call returns some); calls 6 and 7 come after the last new
    message, empty: the stop rule's.
    """
    polls = polls_table([0, 10, 0, 10, 0, 5, 0, 0])
    deliveries = pd.DataFrame(
        [
            {
                "seq": seq,
                "message_id": f"m{seq}",
                "receive_count": 1,
                "receive_time": poll + 0.5,  # a call's end_time
                "poll": poll,
                "position": seq % 10,
                "latency_ms": 10.0,
                "deleted": True,
            }
            for poll, seqs in ((1, range(10)), (3, range(10, 20)), (5, range(20, 25)))
            for seq in seqs
        ],
        columns=DELIVERY_COLUMNS,
    )
    sends = pd.DataFrame({"seq": range(25), "sent": [True] * 25})
    return PollingRun(sends, deliveries, polls)


def test_lab02_ex1_counts_the_calls_up_to_the_last_message():
    run = trickle_run()
    # 6 calls up to the last message for 25 messages = 0.24 per message;
    # x $0.40 per million requests = $0.096 per million messages
    assert checks.lab02_ex1(0.096, run)
    assert checks.lab02_ex1(0.097, run)


@pytest.mark.parametrize(
    ("answer", "hint_word"),
    [
        (0.128, "stop rule"),  # all 8 calls: 8 / 25 x 0.40
        (0.24, "not dollars"),
        (0.096e-6, "per million"),
        (0.5, "times $0.40"),
    ],
)
def test_lab02_ex1_rejects_other_figures_with_a_hint(answer, hint_word):
    verdict = checks.lab02_ex1(answer, trickle_run())

    assert not verdict
    assert hint_word in verdict.message


def test_lab02_ex2_takes_the_share_up_to_the_last_message():
    run = trickle_run()  # 3 of the 6 calls up to the last message were empty

    assert checks.lab02_ex2(0.5, run)
    assert checks.lab02_ex2(0.502, run)
    assert "percentage" in checks.lab02_ex2(50, run).message
    assert "after the last message" in checks.lab02_ex2(0.625, run).message  # 5/8
    assert not checks.lab02_ex2(0.25, run)


@pytest.mark.parametrize("check", [checks.lab02_ex1, checks.lab02_ex2])
def test_lab02_checks_wait_for_an_answer(check):
    verdict = check(None, trickle_run())

    assert not verdict
    assert verdict.message.startswith("No answer yet")


# -- lab 03 -------------------------------------------------------------------------


def brute_force(seq):
    return sum(seq[i] > seq[j] for i in range(len(seq)) for j in range(i + 1, len(seq)))


def test_lab03_ex2_accepts_a_correct_counter():
    assert checks.lab03_ex2(brute_force)


def test_lab03_ex2_names_the_case_a_wrong_counter_fails():
    def neighbours_only(seq):
        return sum(a > b for a, b in itertools.pairwise(seq))

    verdict = checks.lab03_ex2(neighbours_only)

    assert not verdict
    assert "[3, 2, 1, 0]" in verdict.message


def test_lab03_ex2_reports_an_exception_instead_of_raising():
    verdict = checks.lab03_ex2(lambda seq: seq[0])

    assert not verdict
    assert "IndexError" in verdict.message


def test_lab03_ex2_wants_the_function_itself():
    assert not checks.lab03_ex2(3)


def test_lab03_ex3_counts_only_group_one():
    # groups of 2: group 1 is the odd seqs; received 3, 1, 5 -> one inversion
    deliveries = deliveries_table([0, 3, 2, 1, 4, 5])

    assert checks.lab03_ex3(1, deliveries, 2)
    wrong = checks.lab03_ex3(3, deliveries, 2)  # all pairs: (3,2),(3,1),(2,1)
    assert not wrong
    assert "across groups" in wrong.message


# -- lab 04 -------------------------------------------------------------------------


def test_lab04_ex2_accepts_an_idempotent_consumer():
    def total(deliveries):
        return sum(dict(deliveries).values())

    assert checks.lab04_ex2(total)


def test_lab04_ex2_spots_a_consumer_that_counts_repeats():
    def total(deliveries):
        return sum(amount for _, amount in deliveries)

    verdict = checks.lab04_ex2(total)

    assert not verdict
    assert "redelivered" in verdict.message


# -- lab 05 -------------------------------------------------------------------------


def test_lab05_ex1_wants_the_label_with_most_inversions():
    results = {
        "calm": Run(deliveries_table([0, 1, 2, 3])),  # 0 inversions
        "wild": Run(deliveries_table([3, 2, 1, 0])),  # 6 inversions
    }

    assert checks.lab05_ex1("wild", results)
    assert not checks.lab05_ex1("calm", results)
    assert "one of" in checks.lab05_ex1("moto", results).message


# -- function answers not written yet -------------------------------------------


def my_count(seq):
    return None


def total_once(deliveries):
    return None


@pytest.mark.parametrize(
    ("check", "stub"), [(checks.lab03_ex2, my_count), (checks.lab04_ex2, total_once)]
)
def test_a_function_that_returns_none_everywhere_is_not_answered_yet(check, stub):
    verdict = check(stub)

    assert not verdict
    assert verdict.message.startswith("No answer yet")
    assert stub.__name__ in verdict.message


def test_a_function_that_returns_none_on_some_cases_only_gets_a_hint():
    def partly(seq):
        return None if seq else 0

    verdict = checks.lab03_ex2(partly)

    assert verdict.message.startswith("Not yet")


# -- lab 06 -------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["b", "B", "(b)", " (B) "])
def test_lab06_ex4_takes_the_letter_in_any_form(answer):
    assert checks.lab06_ex4(answer)


@pytest.mark.parametrize(
    ("answer", "hint_word"),
    [("a", "job store"), ("c", "keep failing"), ("d", "a, b, c")],
)
def test_lab06_ex4_explains_the_other_choices(answer, hint_word):
    verdict = checks.lab06_ex4(answer)

    assert not verdict
    assert hint_word in verdict.message
