"""The commands: registered in sqs-lab, clear errors, and the done criteria."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import WORKER_CMD, child_env, cli, spawn_worker, stop_all, wait_for_claim

from labsupport.cli import build_parser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def endpoint() -> Iterator[str]:
    """``serve`` in its own process; yields the URL it printed."""
    proc = subprocess.Popen(
        [*WORKER_CMD, "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env(),
    )  # fmt: skip
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    url = proc.stdout.readline().decode().strip() if ready else ""
    yield url
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_sqs_lab_has_the_worker_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["thumbnails", "status", "--endpoint-url", "http://x"])
    assert args.action == "status"
    assert parser.parse_args(["serve", "--port", "0"]).backend == "moto"


def test_unreachable_endpoint_is_one_line_and_exit_code_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("thumbnails", "status", "--endpoint-url", url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Cannot reach the endpoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_exits_2() -> None:
    result = cli("worker", "--endpoint-url", "http://127.0.0.1:1", "--wait-time", "x")
    assert result.returncode == 2


def test_wait_time_outside_the_limit_is_refused(endpoint) -> None:
    result = cli("worker", "--endpoint-url", endpoint, "--wait-time", "25")
    assert result.returncode == 2
    assert "WaitTimeSeconds" in result.stderr


@pytest.mark.slow
def test_done_criteria_40_jobs_2_poison_with_kills(endpoint, tmp_path) -> None:
    # GIVEN `serve`, 40 jobs of which 2 poison, and three workers
    store = tmp_path / "jobs.sqlite3"
    submitted = cli("thumbnails", "submit", "--endpoint-url", endpoint,
                    "--count", "40", "--poison", "2")  # fmt: skip
    assert submitted.returncode == 0
    options = ("--wait-time", "1", "--work-seconds", "0.2",
               "--visibility-timeout", "3", "--backoff", "0")  # fmt: skip
    procs = {n: spawn_worker(endpoint, store, n, tmp_path / f"{n}.log", *options)
             for n in ("w1", "w2", "w3")}  # fmt: skip

    # WHEN workers are killed and restarted while jobs flow
    try:
        for name, sig in (("w1", signal.SIGKILL), ("w2", signal.SIGTERM),
                          ("w3", signal.SIGKILL)):  # fmt: skip
            wait_for_claim(store, name)
            procs[name].send_signal(sig)
            procs[name].wait(timeout=20)
            procs[name] = spawn_worker(
                endpoint, store, name, tmp_path / f"{name}.log", *options
            )
        status = {}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            shown = cli("thumbnails", "status", "--endpoint-url", endpoint,
                        "--store", str(store), "--json")  # fmt: skip
            status = json.loads(shown.stdout)
            if status["jobs_done"] == 38 and status["dead_letter"] == 2:
                break
            time.sleep(0.5)
    finally:
        stop_all(list(procs.values()))

    # THEN status shows 38 thumbnails and jobs done, 2 dead, nothing waiting
    status.pop("duplicate_deliveries")  # depends on where the kills landed
    assert status == {
        "submitted": 40, "thumbnails": 38, "jobs_done": 38,
        "dead_letter": 2, "queued": 0, "in_flight": 0,
    }  # fmt: skip
