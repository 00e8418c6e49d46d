"""Notebook plumbing for the worker lab: an endpoint and workers as processes.

:class:`WorkerLab` starts ``sqs-lab serve`` and any number of ``sqs-lab
worker`` processes on this machine (loopback only), submits jobs, waits for
them to settle, and stops or kills workers, so a notebook cell stays one
line. Everything it writes (the job store, the workers' logs) goes into a
temporary directory removed by :meth:`WorkerLab.close`.

Limitations: processes are started with :data:`sys.executable`, so the
notebook's own environment must have the kit installed; the workers' log
lines go to files in the temporary directory, not to the notebook.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
from matplotlib.figure import Figure

from labsupport.errors import BackendError
from labsupport.worker.clients import LocalClients, local_clients
from labsupport.worker.status import thumbnail_status
from labsupport.worker.store import JobStore
from labsupport.worker.thumbnails import (
    Resources,
    ThumbnailNames,
    ensure_resources,
    poison_jobs,
    submit_jobs,
)

__all__ = [
    "StopReport",
    "WorkerLab",
    "effect_summary",
    "jobs_per_worker",
    "plot_progress",
    "show",
]

START_TIMEOUT_S = 20.0
POLL_PAUSE_S = 0.2


@dataclass(frozen=True)
class StopReport:
    """What happened when a worker was stopped.

    Attributes:
        worker: its name.
        exit_code: the process's exit status (0: clean stop; -9: killed).
        seconds: from the signal to the process's end.
        job: the job it held when the signal was sent ("" if none).
        outcome: that job's last recorded outcome with this worker, or "".
    """

    worker: str
    exit_code: int
    seconds: float
    job: str
    outcome: str


class WorkerLab:
    """A local endpoint, worker processes and their job store, for one lab.

    Args:
        backend: "moto" or "sim", the endpoint's backend.
        max_receive_count: receives before a message moves to the DLQ.
        visibility_timeout: seconds a received job stays hidden.
        work_seconds: extra seconds each job takes.
        wait_time: the workers' long-poll wait, seconds.
        backoff: visibility after a first failure, seconds (doubling).
    """

    def __init__(
        self,
        backend: str = "moto",
        *,
        max_receive_count: int = 3,
        visibility_timeout: int = 10,
        work_seconds: float = 0.3,
        wait_time: int = 1,
        backoff: int = 1,
    ) -> None:
        self.backend = backend
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility_timeout
        self.work_seconds = work_seconds
        self.wait_time = wait_time
        self.backoff = backoff
        self.names = ThumbnailNames()
        self._dir = tempfile.TemporaryDirectory(prefix="sqs-lab-worker-")
        self.workdir = Path(self._dir.name)
        self.store_path = self.workdir / "jobs.sqlite3"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._endpoint: subprocess.Popen[bytes] | None = None
        self._clients: LocalClients | None = None
        self._resources: Resources | None = None
        self._logs: list[IO[bytes]] = []

    # -- endpoint -----------------------------------------------------------

    def start_endpoint(self) -> str:
        """Start ``serve`` in a process; create queues and bucket; return the URL."""
        command = ["serve", "--backend", self.backend, "--port", "0"]
        self._endpoint = self._spawn(command, "endpoint", stdout=subprocess.PIPE)
        self.url = _read_url(self._endpoint, START_TIMEOUT_S)
        self._clients = local_clients(self.url)
        self._resources = ensure_resources(
            self.clients.sqs,
            self.clients.s3,
            self.names,
            max_receive_count=self.max_receive_count,
            visibility_timeout=self.visibility_timeout,
        )
        return self.url

    @property
    def clients(self) -> LocalClients:
        """SQS and S3 clients for the endpoint (after :meth:`start_endpoint`)."""
        if self._clients is None:
            raise BackendError("Start the endpoint first: lab.start_endpoint().")
        return self._clients

    @property
    def resources(self) -> Resources:
        """The queues and bucket (after :meth:`start_endpoint`)."""
        if self._resources is None:
            raise BackendError("Start the endpoint first: lab.start_endpoint().")
        return self._resources

    # -- workers ------------------------------------------------------------

    def start_workers(self, count: int) -> list[str]:
        """Start ``count`` more workers, named worker-1, worker-2, ..."""
        first = len(self.workers) + 1
        names = [f"worker-{n}" for n in range(first, first + count)]
        for name in names:
            self.start_worker(name)
        return names

    def start_worker(self, name: str) -> None:
        """Start (or restart) the worker called ``name``."""
        command = [
            "worker",
            "--endpoint-url", self.url,
            "--store", str(self.store_path),
            "--worker-id", name,
            "--wait-time", str(self.wait_time),
            "--work-seconds", str(self.work_seconds),
            "--visibility-timeout", str(self.visibility_timeout),
            "--backoff", str(self.backoff),
        ]  # fmt: skip
        self.workers[name] = self._spawn(command, name)

    def running(self) -> list[str]:
        """The names of the workers whose process is alive."""
        return [name for name, proc in self.workers.items() if proc.poll() is None]

    def stop_worker_mid_job(self, name: str, timeout: float = 30.0) -> StopReport:
        """Wait until ``name`` holds a job, send SIGTERM, wait for it to exit."""
        return self._signal_mid_job(name, signal.SIGTERM, timeout)

    def kill_worker_mid_job(self, name: str, timeout: float = 30.0) -> StopReport:
        """Wait until ``name`` holds a job, then SIGKILL it: no clean-up at all."""
        return self._signal_mid_job(name, signal.SIGKILL, timeout)

    def _signal_mid_job(
        self, name: str, sig: signal.Signals, timeout: float
    ) -> StopReport:
        proc = self.workers[name]
        job = self._wait_for_claim(name, timeout)
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=timeout)
        seconds = time.monotonic() - sent
        with JobStore(self.store_path) as store:
            outcomes = [
                d.outcome
                for d in store.deliveries()
                if d.worker == name and d.job_key == job
            ]
        return StopReport(name, code, seconds, job, outcomes[-1] if outcomes else "")

    def _wait_for_claim(self, name: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with JobStore(self.store_path) as store:
            while time.monotonic() < deadline:
                held = [job for job, who in store.live_claims().items() if who == name]
                if held:
                    return held[0]
                time.sleep(0.02)
        raise BackendError(f"{name} took no job within {timeout} s.")

    # -- jobs ---------------------------------------------------------------

    def submit(
        self, jobs: int, *, poison: int = 0, resend: int = 0, seed: int = 1
    ) -> list[str]:
        """Upload ``jobs`` images and send their job messages."""
        return submit_jobs(
            self.clients.sqs,
            self.clients.s3,
            self.resources,
            jobs,
            poison=poison,
            resend=resend,
            seed=seed,
        )

    def status(self) -> dict[str, int]:
        """The seven counts of ``sqs-lab thumbnails status``."""
        return thumbnail_status(
            self.clients.sqs, self.clients.s3, self.resources, self.store_path
        )

    def wait_until_settled(self, timeout: float = 60.0) -> dict[str, int]:
        """Wait until every job is done or dead-lettered; return the status.

        Settled: nothing queued or in flight, and jobs done plus dead-lettered
        messages account for every submitted job. Raises BackendError after
        ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        status = self.status()
        while time.monotonic() < deadline:
            if _settled(status):
                return status
            time.sleep(POLL_PAUSE_S)
            status = self.status()
        raise BackendError(f"Jobs not settled after {timeout} s: {status}")

    def poison_jobs(self) -> set[str]:
        """The ids of the jobs made to fail."""
        return poison_jobs(self.clients.s3, self.resources.bucket)

    def dead_letter_jobs(self) -> list[str]:
        """The job ids of the messages in the dead-letter queue, sorted."""
        import json

        found: set[str] = set()
        for _ in range(20):  # bounded: each round sees every visible message
            got = self.clients.sqs.receive_message(
                QueueUrl=self.resources.dead_letter_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=1,
            ).get("Messages", [])
            if not got:
                break
            found.update(json.loads(m["Body"])["job_id"] for m in got)
        return sorted(found)

    def deliveries(self) -> pd.DataFrame:
        """Every delivery the workers handled, one row each, oldest first."""
        with JobStore(self.store_path) as store:
            rows = [vars(d) for d in store.deliveries()]
        columns = ["job_key", "worker", "message_id", "receive_count", "outcome",
                   "started_at", "seconds"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    # -- life cycle ---------------------------------------------------------

    def close(self) -> None:
        """Stop every worker and the endpoint; delete the temporary directory."""
        for proc in self.workers.values():
            _terminate(proc)
        if self._endpoint is not None:
            _terminate(self._endpoint)
        for log in self._logs:
            log.close()
        self._dir.cleanup()

    def __enter__(self) -> WorkerLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(
        self, command: list[str], name: str, stdout: int = subprocess.DEVNULL
    ) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
        return subprocess.Popen(
            [sys.executable, "-m", "labsupport.worker", *command],
            stdout=stdout,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
        )


def _settled(status: dict[str, int]) -> bool:
    return (
        status["queued"] == 0
        and status["in_flight"] == 0
        and status["jobs_done"] + status["dead_letter"] == status["submitted"]
    )


def _read_url(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line the endpoint process prints: its URL."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("http://"):
        _terminate(proc)
        raise BackendError(f"The endpoint did not start within {timeout} s.")
    return line


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# -- what the deliveries show ---------------------------------------------------


def effect_summary(deliveries: pd.DataFrame) -> dict[str, int]:
    """How many jobs were done, done more than once, and delivered as duplicates."""
    done = deliveries[deliveries["outcome"] == "done"]
    per_job = done.groupby("job_key").size()
    return {
        "jobs_done": int(per_job.size),
        "jobs_done_twice": int((per_job > 1).sum()),
        "duplicate_deliveries": int((deliveries["outcome"] == "duplicate").sum()),
        "failed_deliveries": int((deliveries["outcome"] == "failed").sum()),
    }


def jobs_per_worker(deliveries: pd.DataFrame) -> pd.Series:
    """Jobs each worker finished (outcome "done"), by worker name."""
    done = deliveries[deliveries["outcome"] == "done"]
    counts: pd.Series = done.groupby("worker").size().rename("jobs")
    return counts


def plot_progress(deliveries: pd.DataFrame) -> Figure:
    """Jobs finished over time by each worker, and the total per worker."""
    done = deliveries[deliveries["outcome"] == "done"].copy()
    start = deliveries["started_at"].min()
    done["t"] = done["started_at"] + done["seconds"] - start
    figure = Figure(figsize=(9, 3.5), layout="constrained")
    over_time, per_worker = figure.subplots(1, 2, width_ratios=[2, 1])
    for name, rows in done.sort_values("t").groupby("worker"):
        over_time.step(rows["t"], range(1, len(rows) + 1), where="post", label=name)
    over_time.set(xlabel="seconds since the first job", ylabel="jobs done")
    over_time.set_title("Throughput per worker")
    over_time.legend()
    counts = jobs_per_worker(deliveries)
    per_worker.bar(counts.index, counts.to_numpy())
    per_worker.set(ylabel="jobs done", title="Jobs per worker")
    return figure


def show(figure: Figure) -> None:
    """Display ``figure`` in a notebook as a PNG image only (no text repr)."""
    from IPython.display import display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    display({"image/png": buffer.getvalue()}, raw=True)  # type: ignore[no-untyped-call]
