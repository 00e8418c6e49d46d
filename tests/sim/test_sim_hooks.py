"""mock_sim, attach, SimServer (from a second process) and the public names."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

import labsupport.sim
from labsupport.backends import connect
from labsupport.sim import SimModel, SimServer, attach, mock_sim


def new_client(**kwargs):
    return boto3.session.Session(
        aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    ).client("sqs", **kwargs)


def test_public_names_are_the_documented_ones():
    assert sorted(labsupport.sim.__all__) == sorted(
        [
            "PRESETS",
            "SimConfigError",
            "SimModel",
            "SimParams",
            "SimServer",
            "attach",
            "mock_sim",
        ]
    )


def test_connect_sim_gives_the_model_and_its_clock():
    with connect("sim", seed=3, preset="ideal") as conn:
        model = conn.details["model"]
        conn.create_queue("c")

        assert conn.backend == "sim"
        assert conn.clock is model.clock
        assert conn.clock.virtual
        assert list(model.queues) == ["c"]


def test_mock_sim_context_takes_clients_of_any_session():
    with mock_sim(seed=1, preset="ideal") as model:
        url = new_client().create_queue(QueueName="ctx")["QueueUrl"]
        other = new_client().get_queue_url(QueueName="ctx")["QueueUrl"]

    assert url == other
    assert "ctx" in model.queues


@mock_sim(preset="ideal")
def decorated() -> list[str]:
    client = new_client()
    client.create_queue(QueueName="deco")
    return client.list_queues()["QueueUrls"]


def test_mock_sim_decorator_gives_each_call_a_fresh_model():
    assert len(decorated()) == 1
    assert len(decorated()) == 1


def test_mock_sim_coexists_with_moto_for_other_services():
    from moto import mock_aws

    with mock_aws(), mock_sim(preset="ideal") as model:
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        s3.create_bucket(Bucket="lab-bucket")
        url = new_client().create_queue(QueueName="both")["QueueUrl"]
        sent = new_client().send_message(QueueUrl=url, MessageBody="x")
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]

    assert buckets == ["lab-bucket"]
    assert model.stats()["sent"] == 1
    assert (
        sent["MessageId"]
        == next(iter(model.queues["both"].store.by_serial.values())).message_id
    )


def test_detach_returns_the_client_to_its_endpoint():
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
    # nothing listens on the loopback discard port
    client = new_client(endpoint_url="http://127.0.0.1:9", config=config)
    model = SimModel(preset="ideal")
    detach = attach(client, model)
    client.create_queue(QueueName="a")

    detach()

    with pytest.raises(EndpointConnectionError):
        client.create_queue(QueueName="b")
    assert list(model.queues) == ["a"]


SCRIPT = textwrap.dedent("""
    import os, sys, boto3
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    client = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                          aws_access_key_id="t", aws_secret_access_key="t")
    url = client.create_queue(QueueName="shared")["QueueUrl"]
    client.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"from child {i}"} for i in range(5)])
    print(url)
""")


@pytest.mark.slow
def test_server_serves_a_second_process_and_long_polls_really_wait():
    with SimServer(seed=2, preset="ideal") as server:
        child = subprocess.run(
            [sys.executable, "-c", SCRIPT, server.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        client = new_client(endpoint_url=server.url)
        url = child.stdout.strip()
        got = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )["Messages"]
        start = time.monotonic()
        empty = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        waited = time.monotonic() - start

    assert sorted(m["Body"] for m in got) == [f"from child {i}" for i in range(5)]
    assert "Messages" not in empty
    assert waited >= 0.9
    assert child.stderr == ""


@pytest.mark.slow
def test_server_long_polls_do_not_block_each_other():
    with SimServer(preset="ideal") as server:
        client = new_client(endpoint_url=server.url)
        url = client.create_queue(QueueName="wait")["QueueUrl"]
        results: list[int] = []

        def poll() -> None:
            got = client.receive_message(QueueUrl=url, WaitTimeSeconds=5)
            results.append(len(got.get("Messages", [])))

        threads = [threading.Thread(target=poll) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        for i in range(3):
            client.send_message(QueueUrl=url, MessageBody=f"m{i}")
        for thread in threads:
            thread.join(timeout=10)
        elapsed = time.monotonic() - start

    assert sorted(results) == [1, 1, 1]
    assert elapsed < 3
