"""Throughput of the thumbnail workers: jobs per second for 1, 2 and 3 workers.

Each run starts a fresh moto server on a loopback port, submits N jobs, starts
the workers as processes and times from the first worker's start until every
job is done. Figures depend on the machine; they are printed, never asserted.

    python benchmarks/bench_worker.py            # 60 jobs per run
    python benchmarks/bench_worker.py --quick    # 12 jobs per run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from labsupport.backends.local import MotoServer
from labsupport.worker import JobStore, ensure_resources, submit_jobs
from labsupport.worker.clients import local_clients


def run(workers: int, jobs: int, work_seconds: float) -> float:
    """Jobs per second for ``workers`` worker processes on ``jobs`` jobs."""
    server = MotoServer().start()
    reset = urllib.request.Request(f"{server.url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    clients = local_clients(server.url)
    resources = ensure_resources(clients.sqs, clients.s3)
    submit_jobs(clients.sqs, clients.s3, resources, jobs)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "jobs.sqlite3"
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
        command = [sys.executable, "-m", "labsupport.worker", "worker",
                   "--endpoint-url", server.url, "--store", str(store),
                   "--wait-time", "1", "--work-seconds", str(work_seconds)]  # fmt: skip
        started = time.monotonic()
        procs = [
            subprocess.Popen(command, stderr=subprocess.DEVNULL, env=env)
            for _ in range(workers)
        ]
        done = 0
        deadline = started + 300
        while done < jobs and time.monotonic() < deadline:
            time.sleep(0.1)
            with JobStore(store) as record:
                done = len(record.done_jobs())
        took = time.monotonic() - started
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    server.stop()
    return done / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 jobs per run")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--work-seconds", type=float, default=0.05)
    args = parser.parse_args()
    jobs = args.jobs or (12 if args.quick else 60)
    print(f"{jobs} jobs per run, {args.work_seconds} s of extra work per job")
    print("workers  jobs/s  (includes worker start-up)")
    for workers in (1, 2, 3):
        print(f"{workers:7d}  {run(workers, jobs, args.work_seconds):6.1f}")


if __name__ == "__main__":
    main()
