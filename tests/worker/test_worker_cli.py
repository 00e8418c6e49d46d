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
from labsupport.worker import thumbnails
from labsupport.worker.cli import main


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


def test_wait_time_outside_the_limit_is_refused_and_creates_nothing(
    tmp_path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("worker", "--endpoint-url", url, "--wait-time", "25", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "WaitTimeSeconds" in result.stderr
    assert list(tmp_path.iterdir()) == []


# In-process runs of the commands against a port where nothing listens: a
# check made after the first request would answer "Cannot reach" instead.
BAD_WORKER_OPTIONS = [
    (["--wait-time", "25"], "WaitTimeSeconds"),
    (["--wait-time", "-1"], "WaitTimeSeconds"),
    (["--max-messages", "11"], "MaxNumberOfMessages"),
    (["--visibility-timeout", "0"], "VisibilityTimeout"),
    (["--visibility-timeout", "50000"], "VisibilityTimeout"),
    (["--queue", "bad name!"], "queue name"),
    (["--queue", "q" * 81], "queue name"),
    (["--dead-letter-queue", "bad name!"], "queue name"),
    (["--bucket", "b1"], "bucket name"),
    (["--work-seconds", "nan"], "work seconds"),
    (["--work-seconds", "inf"], "work seconds"),
    (["--stop-grace", "-5"], "stop grace"),
    (["--backoff", "-3"], "back-off"),
    (["--max-jobs", "0"], "max-jobs"),
    (["--exit-when-idle", "0"], "exit-when-idle"),
    (["--store", "nodir/x/jobs.db"], "does not exist"),
    (["--store", "."], "is a directory"),
    (["--store", "/proc/version"], "/proc/version"),
]  # fmt: skip


def run_main(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("options", "named"), BAD_WORKER_OPTIONS)
def test_bad_worker_option_is_refused_before_anything_is_sent(
    capsys, monkeypatch, tmp_path, options, named
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"

    code, err = run_main(capsys, "worker", "--endpoint-url", url, *options)

    assert code == 2
    assert err.count("\n") == 1
    assert named in err
    assert "Cannot reach" not in err
    assert list(tmp_path.iterdir()) == []


def test_store_that_is_not_a_database_is_refused(capsys, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database " * 100)
    url = f"http://127.0.0.1:{free_port()}"

    code, err = run_main(capsys, "worker", "--endpoint-url", url, "--store", str(notes))

    assert code == 2
    assert "notes.txt" in err
    assert "not a database" in err


@pytest.mark.parametrize(
    "options",
    [["--count", "0"], ["--count", "2", "--poison", "5"],
     ["--count", "3", "--resend", "4"], ["--count", "1", "--max-receive-count", "5000"],
     ["--count", "1", "--queue", "bad name!"], ["--count", "1", "--bucket", "b1"]],
)  # fmt: skip
def test_bad_submit_option_is_refused_before_anything_is_sent(capsys, options) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, err = run_main(
        capsys, "thumbnails", "submit", "--endpoint-url", url, *options
    )

    assert code == 2
    assert err.startswith("python -m labsupport.worker: error: Invalid ")


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://",
     "ftp://127.0.0.1:1"],
)  # fmt: skip
@pytest.mark.parametrize("command", [["worker"], ["thumbnails", "status"]])
def test_malformed_endpoint_url_is_one_line_and_exit_code_2(
    capsys, command, url
) -> None:
    code, err = run_main(capsys, *command, "--endpoint-url", url)
    assert code == 2
    assert "Invalid endpoint URL" in err
    assert err.count("\n") == 1


def test_ctrl_c_before_the_worker_started_is_one_line(
    capsys, monkeypatch, tmp_path
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(thumbnails, "thumbnail_worker", interrupted)
    url = f"http://127.0.0.1:{free_port()}"

    code, err = run_main(
        capsys, "worker", "--endpoint-url", url, "--store", str(tmp_path / "s.db")
    )

    assert code == 130
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_status_without_the_store_says_so_and_creates_nothing(
    capsys, server, tmp_path
) -> None:
    # GIVEN one submitted job and no store file
    run_main(capsys, "thumbnails", "submit", "--endpoint-url", server.url,
             "--count", "1")  # fmt: skip
    missing = tmp_path / "missing.sqlite3"

    # WHEN status is asked with that store
    code = main(["thumbnails", "status", "--endpoint-url", server.url,
                 "--store", str(missing), "--json"])  # fmt: skip
    out, err = capsys.readouterr()

    # THEN the JSON is unchanged, stderr says the store is missing
    assert code == 0
    assert json.loads(out)["submitted"] == 1
    assert "no job store" in err
    assert not missing.exists()


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
