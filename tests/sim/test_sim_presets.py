"""Presets with fixed seeds: calibration, duplicates, order, determinism, threads."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from loop import inversions, percentile, run_loop

from labsupport.errors import ConfigError
from labsupport.sim import PRESETS, SimConfigError, SimModel
from labsupport.sim.backend import open_sim


def binomial_bounds(
    trials: int, rate: float, sigmas: float = 4.0
) -> tuple[float, float]:
    mean = trials * rate
    spread = sigmas * math.sqrt(trials * rate * (1 - rate))
    return mean - spread, mean + spread


def test_realistic_latency_is_in_the_calibrated_range():
    with open_sim(preset="realistic", seed=1) as conn:
        result = run_loop(conn, 1000)

    latencies = result.first_latencies_ms
    # published: ~20 ms request-response; p95 send-to-receive 94-302 ms
    assert 20 <= percentile(latencies, 50) <= 120
    assert 100 <= percentile(latencies, 95) <= 300
    assert inversions(result.first_order) > 0


def test_realistic_duplicates_follow_the_delete_miss_rate():
    with open_sim(preset="realistic", seed=2) as conn:
        result = run_loop(conn, 1500)
        stats = conn.details["model"].stats()

    low, high = binomial_bounds(stats["deleted"] + stats["delete_misses"], 0.001)
    assert result.duplicates == stats["delete_misses"]
    assert max(low, 0) <= stats["delete_misses"] <= high


def test_classroom_shows_duplicates_within_a_binomial_tolerance():
    rate = PRESETS["classroom"].delete_miss_rate
    with open_sim(preset="classroom", seed=3) as conn:
        result = run_loop(conn, 1500)
        stats = conn.details["model"].stats()

    attempts = stats["deleted"] + stats["delete_misses"]
    low, high = binomial_bounds(attempts, rate)
    assert result.duplicates > 0
    assert low <= stats["delete_misses"] <= high
    assert result.duplicates == stats["delete_misses"]
    assert PRESETS["classroom"].exaggerated


def test_ideal_is_in_order_exactly_once_without_latency():
    with open_sim(preset="ideal", seed=1) as conn:
        result = run_loop(conn, 300)

    assert result.first_order == list(range(300))
    assert result.duplicates == 0
    assert max(result.first_latencies_ms) == 0.0


def test_fifo_single_group_keeps_order_without_duplicates():
    with open_sim(preset="realistic", seed=4) as conn:
        result = run_loop(conn, 500, fifo=True)

    assert result.first_order == list(range(500))
    assert result.duplicates == 0


def test_same_seed_same_results_other_seed_other_results():
    runs = []
    for seed in (5, 5, 6):
        with open_sim(preset="classroom", seed=seed) as conn:
            runs.append(run_loop(conn, 200).deliveries)

    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_short_polls_give_false_empties_on_a_nearly_empty_queue():
    with open_sim(preset="realistic", seed=8) as conn:
        url = conn.create_queue("few")
        conn.client.send_message(QueueUrl=url, MessageBody="only")
        conn.clock.sleep(1)
        found = [
            len(
                conn.client.receive_message(QueueUrl=url, VisibilityTimeout=0).get(
                    "Messages", []
                )
            )
            for _ in range(100)
        ]
        stats = conn.details["model"].stats()

    assert 0 < found.count(0) < 100
    assert stats["false_empties"] == found.count(0)


def test_concurrent_use_loses_and_corrupts_nothing():
    bodies = {f"{p}-{i}-{'y' * 50}" for p in range(4) for i in range(100)}
    received: list[str] = []
    lock = threading.Lock()
    with open_sim(preset="realistic", seed=9, delete_miss_rate=0.0) as conn:
        client = conn.client
        url = conn.create_queue("threads")

        def produce(p: int) -> None:
            mine = sorted(b for b in bodies if b.startswith(f"{p}-"))
            for i in range(0, len(mine), 10):
                client.send_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(j), "MessageBody": b}
                        for j, b in enumerate(mine[i : i + 10])
                    ],
                )

        def finished() -> bool:
            with lock:
                return len(received) >= len(bodies)

        def consume() -> None:
            while not finished():
                # The threads share one virtual clock and their waits add
                # up, so a 30 s timeout could run out between receive and
                # delete: a redelivery the model means, not a lost update.
                got = client.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    VisibilityTimeout=43_200,
                ).get("Messages", [])
                for msg in got:
                    client.delete_message(
                        QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"]
                    )
                with lock:
                    received.extend(m["Body"] for m in got)

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(produce, p) for p in range(4)]
            futures += [pool.submit(consume) for _ in range(4)]
            for future in futures:
                future.result(timeout=60)

    assert sorted(received) == sorted(bodies)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"preset": "turbo"}, "classroom, ideal, realistic"),
        ({"latency": 3}, "rtt_median_ms"),
        ({"delete_miss_rate": 2.0}, "probability"),
    ],
)
def test_bad_configuration_names_the_valid_choices(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        open_sim(**kwargs)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            {"servers": "8"},
            "Invalid sim parameter servers: must be a whole number from 1 to "
            "1,000; got '8'.",
        ),
        (
            {"replicas": 2.0},
            "Invalid sim parameter replicas: must be a whole number from 1 to "
            "1,000; got 2.0.",
        ),
        (
            {"rtt_median_ms": math.nan},
            "Invalid sim parameter rtt_median_ms: must be a finite number of 0 "
            "or more; got nan.",
        ),
        (
            {"propagation_median_ms": math.inf},
            "Invalid sim parameter propagation_median_ms: must be a finite "
            "number of 0 or more; got inf.",
        ),
        (
            {"delete_miss_rate": math.nan},
            "Invalid sim parameter delete_miss_rate: must be a probability from "
            "0 to 1; got nan.",
        ),
        (
            {"throttle_rate": "0.1"},
            "Invalid sim parameter throttle_rate: must be a probability from 0 "
            "to 1; got '0.1'.",
        ),
        (
            {"exaggerated": 1},
            "Invalid sim parameter exaggerated: must be True or False; got 1.",
        ),
    ],
)
def test_bad_parameter_values_name_the_parameter_range_and_value(override, expected):
    with pytest.raises(SimConfigError) as excinfo:
        SimModel(preset="ideal", **override)

    assert str(excinfo.value) == expected
    assert isinstance(excinfo.value, ConfigError)


def test_every_parameter_can_be_overridden_by_name():
    model = SimModel(preset="ideal", servers=4, replicas=2, rtt_median_ms=5.0)

    assert (model.params.servers, model.params.replicas) == (4, 2)
    assert model.params.rtt_median_ms == 5.0
    assert model.params.propagation_median_ms == 0.0
