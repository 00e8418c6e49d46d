"""The instructor solutions in solutions/ pass the notebooks' own self-checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from labsupport import connect, run_experiment
from labsupport.lab import checks
from labsupport.lab.polling import trickle

SOLUTIONS = Path(__file__).parent.parent / "solutions"


def solution(name: str) -> ModuleType:
    """Load solutions/<name>.py (the folder is not an installed package)."""
    spec = importlib.util.spec_from_file_location(
        f"solutions_{name}", SOLUTIONS / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def short_run():
    """A short-polling run on the sim model."""
    with connect("sim", seed=3) as conn:
        return run_experiment(conn, messages=60, wait_time=0, seed=3)


@pytest.fixture(scope="module")
def trickle_run():
    """Short polling on a trickle of traffic, as in notebook 02 (smaller)."""
    with connect("sim", seed=3) as conn:
        return trickle(conn, messages=10, over_s=30, wait_time=0, seed=3)


@pytest.fixture(scope="module")
def grouped_run():
    """A FIFO run over 3 message groups, as in notebook 03 (smaller)."""
    with connect("sim", seed=3) as conn:
        return run_experiment(conn, messages=60, queue_type="fifo", groups=3, seed=3)


def test_lab00():
    lab00 = solution("lab00")

    assert checks.lab00_ex1(lab00.ex1())
    assert checks.lab00_ex2(lab00.ex2(seed=1))


def test_lab01():
    lab01 = solution("lab01")
    response = {
        "Successful": [{"Id": "a"}],
        "Failed": [
            {"Id": "b", "SenderFault": False, "Code": "InternalError"},
            {"Id": "c", "SenderFault": True, "Code": "InvalidMessageContents"},
        ],
    }

    assert checks.lab01_ex1(lab01.ex1())
    assert checks.lab01_ex2(lab01.ex2())
    assert checks.lab01_ex3(lab01.ex3(response), response)


def test_lab01_batch_count_matches_the_kit_sender():
    # GIVEN the kit's own sender on the sim model, 25 bodies of 300,000 bytes
    from labsupport import send_batches

    with connect("sim", seed=1) as conn:
        url = conn.create_queue("big")
        result = send_batches(conn, url, ["x" * 300_000] * 25)
    # THEN it made as many batch calls as the solution says
    calls = result.sends["entry_id"].str.split("-").str[0].nunique()
    assert calls == solution("lab01").ex2()


def test_lab02(trickle_run):
    lab02 = solution("lab02")

    assert checks.lab02_ex1(lab02.ex1(trickle_run), trickle_run)
    assert checks.lab02_ex2(lab02.ex2(trickle_run), trickle_run)
    assert checks.lab02_ex3(lab02.ex3())


def test_lab03(grouped_run):
    lab03 = solution("lab03")
    answer = lab03.ex3(grouped_run.deliveries, 3)

    assert checks.lab03_ex1(lab03.ex1())
    assert checks.lab03_ex2(lab03.count_inversions)
    assert checks.lab03_ex3(answer, grouped_run.deliveries, 3)


def test_lab04():
    lab04 = solution("lab04")

    assert checks.lab04_ex1(lab04.ex1(seed=1))
    assert checks.lab04_ex2(lab04.total_once)
    assert checks.lab04_ex3(lab04.ex3(seed=1))


def test_lab05(short_run, grouped_run):
    results = {"short polling": short_run, "FIFO groups": grouped_run}

    assert checks.lab05_ex1(solution("lab05").ex1(results), results)


def test_lab06():
    lab06 = solution("lab06")
    # GIVEN a worker lab's deliveries: one poison job failed three times,
    # then a good job was done once
    deliveries = pd.DataFrame(
        {
            "job_key": ["p1", "p1", "p1", "g1"],
            "receive_count": [1, 2, 3, 1],
            "outcome": ["failed", "failed", "failed", "done"],
        }
    )

    assert checks.lab06_ex1(lab06.ex1())
    assert checks.lab06_ex2(lab06.ex2(deliveries))
    assert checks.lab06_ex3(lab06.ex3())
    assert checks.lab06_ex4(lab06.ex4())
