"""The idempotency store: claim, complete, release, across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.worker import Claim, Delivery, JobStore

LONG = 600.0  # seconds: a lease that cannot run out during a test


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_first_claim_wins_and_a_second_worker_finds_it_busy(path: Path) -> None:
    with JobStore(path) as a, JobStore(path) as b:
        assert a.claim("job-1", "worker-a", LONG) is Claim.CLAIMED
        assert b.claim("job-1", "worker-b", LONG) is Claim.BUSY


def test_completed_job_is_done_for_everyone(path: Path) -> None:
    with JobStore(path) as a, JobStore(path) as b:
        a.claim("job-1", "worker-a", LONG)
        assert a.complete("job-1", "worker-a", "thumbnails/job-1.jpg") is True
        assert b.claim("job-1", "worker-b", LONG) is Claim.DONE
        assert a.claim("job-1", "worker-a", LONG) is Claim.DONE
        assert b.done_jobs() == {"job-1"}


def test_completing_twice_reports_the_second_as_not_new(path: Path) -> None:
    with JobStore(path) as store:
        store.claim("job-1", "worker-a", LONG)
        assert store.complete("job-1", "worker-a") is True
        assert store.complete("job-1", "worker-b") is False
        assert store.done_jobs() == {"job-1"}


def test_lapsed_lease_is_taken_over(path: Path) -> None:
    with JobStore(path) as a, JobStore(path) as b:
        a.claim("job-1", "worker-a", 0.0)  # lease ends at once
        assert b.claim("job-1", "worker-b", LONG) is Claim.CLAIMED
        assert b.live_claims() == {"job-1": "worker-b"}


def test_released_claim_can_be_claimed_at_once(path: Path) -> None:
    with JobStore(path) as a, JobStore(path) as b:
        a.claim("job-1", "worker-a", LONG)
        assert a.release("job-1", "worker-a") is True
        assert b.claim("job-1", "worker-b", LONG) is Claim.CLAIMED
        assert a.release("job-1", "worker-a") is False  # no longer a's


def test_extend_only_by_the_owner(path: Path) -> None:
    with JobStore(path) as store:
        store.claim("job-1", "worker-a", LONG)
        assert store.extend("job-1", "worker-a", LONG) is True
        assert store.extend("job-1", "worker-b", LONG) is False


def test_claim_made_in_another_process_is_seen_here(path: Path) -> None:
    code = (
        "import sys; from labsupport.worker import JobStore\n"
        "s = JobStore(sys.argv[1]); print(s.claim('job-7', 'other', 600).value)\n"
        "s.complete('job-7', 'other')"
    )
    done = run_python(code, str(path))
    assert done.stdout.strip() == "claimed"
    with JobStore(path) as store:
        assert store.claim("job-7", "here", LONG) is Claim.DONE


def test_worker_killed_mid_job_leaves_the_job_claimed_not_done(path: Path) -> None:
    # GIVEN a process that claims a job and is killed before completing it
    code = (
        "import os, signal, sys; from labsupport.worker import JobStore\n"
        "s = JobStore(sys.argv[1]); s.claim('job-9', 'doomed', 0.5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = run_python(code, str(path))
    assert killed.returncode == -9
    with JobStore(path) as store:
        # THEN the job is not done, and another worker can redo it
        assert store.state("job-9") == "claimed"
        assert store.done_jobs() == set()
        store.claim("job-9", "doomed", 0.0)  # same owner id ends the lease now
        assert store.claim("job-9", "rescuer", LONG) is Claim.CLAIMED


def test_only_one_of_several_racing_processes_claims(path: Path) -> None:
    JobStore(path).close()  # create the tables first
    code = (
        "import sys; from labsupport.worker import JobStore\n"
        "print(JobStore(sys.argv[1]).claim('job-1', sys.argv[2], 600).value)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), f"w{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    answers = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert answers == ["busy", "busy", "busy", "claimed"]


def test_deliveries_are_recorded_in_order_and_counted(path: Path) -> None:
    with JobStore(path) as store:
        for n, outcome in enumerate(["done", "duplicate", "failed", "duplicate"]):
            store.record_delivery(
                Delivery(f"job-{n}", "w", f"m{n}", 1, outcome, 100.0 + n, 0.5)
            )
        assert [d.outcome for d in store.deliveries()] == [
            "done", "duplicate", "failed", "duplicate",
        ]  # fmt: skip
        assert store.count_outcome("duplicate") == 2
