"""Shared fixtures. Every test runs with AWS settings that cannot reach AWS."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from labsupport import Connection, connect


@pytest.fixture(autouse=True)
def _offline_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No real credentials, no instance-metadata look-ups, no ~/.aws files."""
    home = tmp_path_factory.mktemp("aws-home")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SQS",
        "SQS_LAB_ALLOW_AWS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))


_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    """Resolve only loopback names, so no test can reach a real service."""
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name != "localhost":
        try:
            if not ipaddress.ip_address(name).is_loopback:
                raise OSError(f"tests may only reach loopback; refused {name}")
        except ValueError:
            raise OSError(f"tests may only reach loopback; refused {name}") from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


@pytest.fixture
def moto_conn() -> Iterator[Connection]:
    """A connection to moto in-process, closed after the test."""
    with connect("moto") as conn:
        yield conn
