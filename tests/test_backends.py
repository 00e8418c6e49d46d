"""Backends: what connect() gives, what it cleans up, and its guard rails."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from labsupport import connect
from labsupport.backends import BACKENDS
from labsupport.backends.local import MotoServer
from labsupport.errors import (
    AwsOptInRequired,
    ConfigError,
    InvalidQueueName,
    MessageCapExceeded,
    MissingCredentials,
    MissingRegion,
    UnknownBackend,
)
from labsupport.experiment import make_bodies, send_batches


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(UnknownBackend) as info:
        connect("rabbitmq")
    for name in ("sim", "moto", "moto-server", "endpoint", "aws"):
        assert name in str(info.value)
    assert info.value.name == "rabbitmq"


def test_registry_lists_every_backend() -> None:
    assert set(BACKENDS) == {"sim", "moto", "moto-server", "endpoint", "aws"}


def test_moto_queue_is_deleted_on_close_and_environment_restored() -> None:
    before = dict(os.environ)
    with connect("moto") as conn:
        url = conn.create_queue("cleanup-me")
        assert conn.client.list_queues()["QueueUrls"] == [url]
    assert dict(os.environ) == before
    assert conn.created_queues == []
    with connect("moto") as again:
        assert again.client.list_queues().get("QueueUrls", []) == []


def test_moto_round_trip(moto_conn) -> None:
    url = moto_conn.create_queue("hello")
    moto_conn.client.send_message(QueueUrl=url, MessageBody="hi")
    got = moto_conn.client.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in got] == ["hi"]


def test_fifo_flag_adds_suffix_and_attribute(moto_conn) -> None:
    url = moto_conn.create_queue("orders", fifo=True)
    assert url.endswith("/orders.fifo")
    attrs = moto_conn.client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["FifoQueue"]
    )["Attributes"]
    assert attrs["FifoQueue"] == "true"


def test_invalid_queue_name_is_refused_before_any_request(moto_conn) -> None:
    with pytest.raises(InvalidQueueName) as info:
        moto_conn.create_queue("bad name")
    assert "1 to 80 characters" in str(info.value)
    assert moto_conn.client.list_queues().get("QueueUrls", []) == []


SECOND_PROCESS = """
import sys, boto3
client = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
url = client.get_queue_url(QueueName="shared")["QueueUrl"]
for i in range(5):
    client.send_message(QueueUrl=url, MessageBody=f"from-child-{i}")
"""


def test_moto_server_is_shared_with_a_second_process() -> None:
    with connect("moto-server") as conn:
        assert conn.endpoint_url.startswith("http://127.0.0.1:")
        url = conn.create_queue("shared")
        subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS, conn.endpoint_url],
            check=True,
            timeout=60,
            env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"},
        )
        bodies = set()
        for _ in range(10):
            got = conn.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            bodies |= {m["Body"] for m in got.get("Messages", [])}
        assert bodies == {f"from-child-{i}" for i in range(5)}
        endpoint = conn.endpoint_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)


def test_endpoint_backend_talks_to_a_given_url() -> None:
    server = MotoServer().start()
    try:
        with connect("endpoint", endpoint_url=server.url) as conn:
            url = conn.create_queue("via-endpoint")
            assert url.endswith("/via-endpoint")
    finally:
        server.stop()


@pytest.mark.parametrize("url", [None, "", "127.0.0.1:5000", "ftp://x"])
def test_endpoint_backend_needs_an_http_url(url) -> None:
    with pytest.raises(ConfigError, match="http"):
        connect("endpoint", endpoint_url=url)


def test_moto_server_port_in_use_is_a_clear_error() -> None:
    first = MotoServer().start()
    try:
        with pytest.raises(Exception, match=f"{first.port}"):
            MotoServer(port=first.port)
    finally:
        first.stop()


# -- real AWS, never reached: opt-in, region, credentials, stubbed calls ------


def test_aws_needs_the_opt_in() -> None:
    with pytest.raises(AwsOptInRequired, match="SQS_LAB_ALLOW_AWS"):
        connect("aws", region="eu-west-1")


def test_aws_needs_a_region(monkeypatch) -> None:
    monkeypatch.setenv("SQS_LAB_ALLOW_AWS", "1")
    with pytest.raises(MissingRegion, match="AWS_REGION"):
        connect("aws")


def test_aws_needs_credentials() -> None:
    with pytest.raises(MissingCredentials, match="AWS_ACCESS_KEY_ID"):
        connect("aws", allow_aws=True, region="eu-west-1")


def _stubbed_aws(**options):
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="example",
        region_name="eu-west-1",
    )
    conn = connect("aws", allow_aws=True, session=session, **options)
    return conn, Stubber(conn.client)


def test_aws_prefixes_tags_and_deletes_only_its_own_queues() -> None:
    conn, stub = _stubbed_aws()
    name = f"sqslab-{conn.run_id}-orders"
    url = f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
    stub.add_response(
        "create_queue",
        {"QueueUrl": url},
        {"QueueName": name, "Attributes": {}, "tags": {"sqs-lab-run": conn.run_id}},
    )
    stub.add_response("delete_queue", {}, {"QueueUrl": url})
    with stub:
        assert conn.create_queue("orders") == url
        conn.close()
    stub.assert_no_pending_responses()


def test_aws_message_cap_stops_before_the_call_that_would_pass_it() -> None:
    conn, stub = _stubbed_aws(max_messages=15)
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/sqslab-x-q"
    stub.add_response(
        "get_queue_attributes", {"Attributes": {"MaximumMessageSize": "1048576"}}
    )
    stub.add_response(
        "send_message_batch",
        {
            "Successful": [
                {"Id": f"b0-{i}", "MessageId": f"m{i}", "MD5OfMessageBody": "x" * 32}
                for i in range(10)
            ],
            "Failed": [],
        },
    )
    with stub, pytest.raises(MessageCapExceeded) as info:
        send_batches(conn, url, make_bodies(20))
    stub.assert_no_pending_responses()
    assert (info.value.cap, info.value.already, info.value.wanted) == (15, 10, 10)
    assert conn.messages_sent == 10


def test_aws_service_errors_reach_the_caller_unchanged() -> None:
    conn, stub = _stubbed_aws()
    stub.add_client_error(
        "create_queue", service_error_code="AccessDenied", http_status_code=403
    )
    with stub, pytest.raises(ClientError, match="AccessDenied"):
        conn.create_queue("denied")
    assert conn.created_queues == []


@pytest.mark.parametrize("value", ["false", "yes", 1])
def test_aws_opt_in_must_be_a_real_boolean(value) -> None:
    with pytest.raises(ConfigError, match="True or False"):
        connect("aws", allow_aws=value, region="eu-west-1")


@pytest.mark.parametrize(
    ("backend", "options", "words"),
    [
        ("moto", {"preset": "classroom"}, "only on the sim backend"),
        ("moto", {"speed": 2}, "it takes region"),
        ("moto", {"region": ""}, "Invalid region"),
        ("moto", {"region": "Mars"}, "Invalid region"),
        ("moto-server", {"port": 70_000}, "0 to 65535"),
        ("moto-server", {"port": "abc"}, "0 to 65535"),
        ("endpoint", {"endpoint_url": 5}, "http://"),
    ],
)
def test_wrong_options_are_config_errors(backend, options, words) -> None:
    with pytest.raises(ConfigError, match=words):
        connect(backend, **options)


def test_seed_and_the_ideal_preset_are_accepted_everywhere() -> None:
    with connect("moto", seed=4, preset="ideal") as conn:
        assert conn.backend == "moto"


def test_an_explicit_no_beats_the_environment_opt_in(monkeypatch) -> None:
    monkeypatch.setenv("SQS_LAB_ALLOW_AWS", "1")
    with pytest.raises(AwsOptInRequired):
        connect("aws", allow_aws=False, region="eu-west-1")


def test_an_unknown_profile_is_a_kit_error(monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nosuchprofile")
    with pytest.raises(MissingCredentials, match="nosuchprofile"):
        connect("aws", allow_aws=True, region="eu-west-1")
