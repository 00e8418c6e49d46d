"""Fixtures of the worker tests: queues, bucket and store on in-process moto."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labsupport import connect
from labsupport.backends.local import MotoServer
from labsupport.worker import JobStore, Resources, ThumbnailNames, ensure_resources


@dataclass
class Kit:
    sqs: Any
    s3: Any
    resources: Resources
    store: JobStore


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """Job queue with a DLQ (maxReceiveCount 3), bucket and a store file."""
    with connect("moto") as conn:
        s3 = conn.client_for("s3")
        resources = ensure_resources(
            conn.client, s3, ThumbnailNames(), max_receive_count=3
        )
        with JobStore(tmp_path / "jobs.sqlite3") as store:
            yield Kit(conn.client, s3, resources, store)


@pytest.fixture
def server() -> Iterator[MotoServer]:
    """A moto server with empty state (moto's state is per process, not server)."""
    moto = MotoServer().start()
    urllib.request.urlopen(
        urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    yield moto
    moto.stop()


WORKER_CMD = [sys.executable, "-m", "labsupport.worker"]


def cli(
    *args: str, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m labsupport.worker ARGS`` to the end."""
    return subprocess.run(
        [*WORKER_CMD, *args], capture_output=True, text=True, timeout=timeout,
        check=False, env=child_env(), cwd=cwd,
    )  # fmt: skip


def child_env() -> dict[str, str]:
    return dict(os.environ, AWS_EC2_METADATA_DISABLED="true")


def spawn_worker(
    url: str, store: Path, name: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """A worker process; its log lines go to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*WORKER_CMD, "worker", "--endpoint-url", url, "--store", str(store),
             "--worker-id", name, *extra],
            stdout=subprocess.DEVNULL, stderr=out, env=child_env(),
        )  # fmt: skip


def wait_for_claim(store_path: Path, name: str, timeout: float = 20) -> str:
    """The job ``name`` holds, once it holds one (bounded wait)."""
    deadline = time.monotonic() + timeout
    with JobStore(store_path) as store:
        while time.monotonic() < deadline:
            held = [job for job, who in store.live_claims().items() if who == name]
            if held:
                return held[0]
            time.sleep(0.02)
    raise AssertionError(f"{name} claimed no job within {timeout} s")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
