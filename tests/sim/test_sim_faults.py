"""Injected faults are observed at their configured rates."""

from __future__ import annotations

import math
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from labsupport.backends.connection import fake_session
from labsupport.sim import SimModel, attach


def bounds(trials: int, rate: float) -> tuple[float, float]:
    spread = 4 * math.sqrt(trials * rate * (1 - rate))
    return trials * rate - spread, trials * rate + spread


def error_code(call: Any) -> str | None:
    """The error code a call ended with, None if it succeeded."""
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    except ReadTimeoutError:
        return "timeout"
    return None


def setup(**rates: float) -> tuple[Any, SimModel, str]:
    """A one-attempt client on a faulty model, and a queue made without faults."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30
    )
    client = fake_session("us-east-1").client("sqs", config=config)
    model = SimModel(preset="ideal", seed=11, **rates)
    attach(client, model)
    url = model.create_queue({"QueueName": "faulty"})["QueueUrl"]
    return client, model, url


def test_throttling_at_its_rate():
    client, _, url = setup(throttle_rate=0.2)

    codes = [
        error_code(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
        for _ in range(400)
    ]

    low, high = bounds(400, 0.2)
    assert low <= codes.count("RequestThrottled") <= high
    assert set(codes) == {None, "RequestThrottled"}


def test_internal_errors_at_their_rate_with_5xx_codes():
    client, model, url = setup(internal_error_rate=0.1)

    codes = [
        error_code(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
        for _ in range(400)
    ]

    failed = [c for c in codes if c is not None]
    low, high = bounds(400, 0.1)
    assert low <= len(failed) <= high
    assert set(failed) == {"InternalError", "ServiceUnavailable"}
    assert model.stats()["sent"] == codes.count(None)


def test_timeouts_with_lost_answers_still_enqueue():
    client, model, url = setup(timeout_rate=0.25, lost_answer_share=1.0)
    start = model.clock.now()

    codes = [
        error_code(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
        for _ in range(200)
    ]

    low, high = bounds(200, 0.25)
    assert low <= codes.count("timeout") <= high
    assert model.stats()["sent"] == 200  # every request acted on
    assert model.clock.now() - start == pytest.approx(30 * codes.count("timeout"))


def test_timeouts_before_the_service_acts_enqueue_nothing():
    client, model, url = setup(timeout_rate=0.25, lost_answer_share=0.0)

    codes = [
        error_code(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
        for _ in range(200)
    ]

    assert model.stats()["sent"] == codes.count(None)


def test_failed_batch_entries_are_service_faults_at_their_rate():
    client, _, url = setup(batch_entry_failure_rate=0.25)
    failed: list[dict[str, Any]] = []
    done = 0

    for batch in range(60):
        out = client.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"b{batch}e{i}", "MessageBody": "x"} for i in range(10)],
        )
        failed += out["Failed"]
        done += len(out["Successful"])

    low, high = bounds(600, 0.25)
    assert low <= len(failed) <= high
    assert done + len(failed) == 600
    assert {f["SenderFault"] for f in failed} == {False}
    assert {f["Code"] for f in failed} == {"InternalError", "ServiceUnavailable"}


def test_no_faults_by_default():
    client, model, url = setup()

    codes = [
        error_code(lambda: client.send_message(QueueUrl=url, MessageBody="x"))
        for _ in range(100)
    ]

    assert codes == [None] * 100
    assert not model.params.faults_enabled
