"""mock_sim, attach, SimServer (from a second process) and the public names."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

import labsupport.sim
from labsupport.backends import connect
from labsupport.sim import SimModel, SimServer, attach, hook, mock_sim
from labsupport.sim.server import make_wsgi_app


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


def plain_client_reaches_its_endpoint() -> bool:
    """True if a plain client's request goes to its endpoint (no model took it)."""
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
    # nothing listens on the loopback discard port
    client = new_client(endpoint_url="http://127.0.0.1:9", config=config)
    with pytest.raises(EndpointConnectionError):
        client.list_queues()
    return True


@mock_sim(seed=3, preset="ideal")
def recurse(depth: int) -> int:
    client = new_client()
    client.create_queue(QueueName=f"depth{depth}")
    inner = recurse(depth - 1) if depth else 0
    return inner + len(client.list_queues()["QueueUrls"])


def test_mock_sim_decorator_is_re_entrant():
    # each call has its own model: every level sees only its own queue
    total = recurse(2)

    assert total == 3
    assert hook._ROUTER.models == []
    assert plain_client_reaches_its_endpoint()


def test_mock_sim_context_entered_twice_restores_each_model():
    mock = mock_sim(preset="ideal")

    with mock as outer:
        with mock as inner:
            new_client().create_queue(QueueName="inner")
        new_client().create_queue(QueueName="outer")

    assert list(inner.queues) == ["inner"]
    assert list(outer.queues) == ["outer"]
    assert hook._ROUTER.models == []


@mock_sim(preset="ideal")
def in_thread(name: str, barrier: threading.Barrier) -> list[str]:
    client = new_client()
    client.create_queue(QueueName=name)
    barrier.wait(timeout=10)  # both calls are active now
    urls = client.list_queues()["QueueUrls"]
    barrier.wait(timeout=10)
    return [url.rsplit("/", 1)[1] for url in urls]


def test_mock_sim_decorated_calls_in_two_threads_keep_their_own_models():
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(in_thread, name, barrier) for name in ("a", "b")]
        seen = [future.result(timeout=30) for future in futures]

    assert seen == [["a"], ["b"]]
    assert hook._ROUTER.models == []
    assert plain_client_reaches_its_endpoint()


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


def test_server_queue_urls_point_at_the_server_and_resolve():
    with SimServer(preset="ideal") as server:
        client = new_client(endpoint_url=server.url)
        created = client.create_queue(QueueName="here")["QueueUrl"]
        dlq = client.create_queue(QueueName="here-dlq")["QueueUrl"]
        arn = "arn:aws:sqs:us-east-1:123456789012:here-dlq"
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        client.set_queue_attributes(
            QueueUrl=created, Attributes={"RedrivePolicy": policy}
        )
        looked_up = client.get_queue_url(QueueName="here")["QueueUrl"]
        listed = client.list_queues()["QueueUrls"]
        sources = client.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
        # an SDK that sends each request to the queue's URL reaches the server
        routed = new_client(endpoint_url=created)
        routed.send_message(QueueUrl=created, MessageBody="hello")
        got = client.receive_message(QueueUrl=looked_up, WaitTimeSeconds=1)

    expected = f"http://127.0.0.1:{server.port}/123456789012/here"
    assert created == looked_up == expected
    assert listed == [expected, expected + "-dlq"]
    assert sources == [expected]
    assert [m["Body"] for m in got["Messages"]] == ["hello"]


def test_wsgi_app_queue_urls_follow_the_host_asked():
    app = make_wsgi_app(SimModel(preset="ideal", realtime=True))
    body = json.dumps({"QueueName": "wsgi"}).encode()
    environ = {
        "HTTP_X_AMZ_TARGET": "AmazonSQS.CreateQueue",
        "HTTP_HOST": "localhost:4566",
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    statuses: list[str] = []

    payload = b"".join(app(environ, lambda status, headers: statuses.append(status)))

    assert statuses == ["200 OK"]
    assert json.loads(payload) == {
        "QueueUrl": "http://localhost:4566/123456789012/wsgi"
    }


def test_in_process_queue_urls_keep_the_aws_form():
    with mock_sim(preset="ideal"):
        url = new_client().create_queue(QueueName="inproc")["QueueUrl"]

    assert url == "https://sqs.us-east-1.amazonaws.com/123456789012/inproc"


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


def test_an_open_moto_mock_does_not_also_act_on_the_models_requests():
    from labsupport import connect

    with connect("moto") as moto_conn, connect("sim", seed=1) as sim_conn:
        sim_conn.create_queue("only-in-the-model")
        # Had moto's handler run too, it would have made the queue as well.
        assert moto_conn.client.list_queues().get("QueueUrls", []) == []
        url = moto_conn.create_queue("only-in-moto")
        moto_conn.client.send_message(QueueUrl=url, MessageBody="m")
        got = moto_conn.client.receive_message(QueueUrl=url)["Messages"]
        assert [m["Body"] for m in got] == ["m"]


def test_no_preset_means_the_realistic_one():
    from labsupport import connect

    with connect("sim", preset=None) as conn:
        assert conn.details["preset"] == "realistic"
