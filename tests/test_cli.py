"""``sqs-lab`` end to end, in-process and as a real command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from labsupport.cli import main


def test_run_on_moto_reports_every_message(capsys) -> None:
    status = main(
        ["run", "--backend", "moto", "--messages", "200", "--wait-time", "1", "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert status == 0
    assert summary["messages_sent"] == 200
    assert summary["unique_delivered"] == 200
    assert summary["missing"] == 0
    assert summary["backend"] == "moto"


def test_run_writes_the_report(tmp_path, capsys) -> None:
    out = tmp_path / "report"
    status = main(
        [
            "run",
            "--backend",
            "moto",
            "--messages",
            "30",
            "--wait-time",
            "1",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert status == 0
    assert "unique delivered" in text
    for name in ("sends.csv", "deliveries.csv", "polls.csv", "summary.json"):
        assert (out / name).is_file()
    assert len(list(out.glob("*.png"))) >= 4


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "--backend", "kafka"], "Unknown backend 'kafka'"),
        (["run", "--backend", "moto", "--batch-size", "11"], "batch size"),
        (["run", "--backend", "moto", "--wait-time", "25"], "WaitTimeSeconds"),
        (["run", "--backend", "moto", "--messages", "0"], "message count"),
        (["run", "--backend", "moto", "--visibility-timeout", "-1"], "Visibility"),
        (["run", "--backend", "aws", "--region", "eu-west-1"], "Opt in"),
        (["run", "--backend", "endpoint"], "endpoint_url"),
        (["run", "--backend", "moto", "--preset", "ideal"], "sim backend only"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(argv, words, capsys) -> None:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert words in err
    assert "Traceback" not in err


def test_console_script_runs_as_a_real_command() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "labsupport.cli",
            "run",
            "--backend",
            "moto",
            "--messages",
            "12",
            "--wait-time",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout)["unique_delivered"] == 12


def test_unwritable_report_folder_fails_before_the_run(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = main(["run", "--backend", "moto", "--out", str(blocker / "report")])
    err = capsys.readouterr().err
    assert status == 2
    assert "Cannot write the report" in err
    assert "Traceback" not in err


def _run_json(capsys, *extra: str) -> dict:
    argv = ["run", "--backend", "sim", "--messages", "2000", "--seed", "1", "--json"]
    assert main([*argv, *extra]) == 0
    summary = json.loads(capsys.readouterr().out)
    summary.pop("elapsed_s")  # wall-clock time, the only figure that may vary
    return summary


def test_sim_standard_run_shows_the_standard_queue_effects_repeatably(capsys) -> None:
    first = _run_json(capsys)
    assert first == _run_json(capsys)
    assert first["inversions"] > 0
    lat = first["latency_ms"]
    # Published: p95 send-to-receive with long polling of roughly 100-300 ms;
    # p95 lies between p90 and p99.
    assert lat["p90"] <= 300
    assert lat["p99"] >= 100
    assert first["missing"] == 0
    assert first["virtual_elapsed_s"] > 0


def test_sim_classroom_preset_shows_duplicates(capsys) -> None:
    assert _run_json(capsys, "--preset", "classroom")["duplicates"] > 0


def test_sim_fifo_one_group_is_in_order_and_once(capsys) -> None:
    summary = _run_json(capsys, "--queue-type", "fifo")
    assert (summary["inversions"], summary["duplicates"]) == (0, 0)
    assert summary["unique_delivered"] == 2000


def test_fifo_groups_report_the_inversions_that_matter(capsys) -> None:
    summary = _run_json(capsys, "--queue-type", "fifo", "--groups", "4")
    assert summary["queue_type"] == "fifo"
    assert summary["groups"] == 4
    assert summary["inversions"] > 0  # across groups: no order promised
    assert summary["inversions_within_groups"] == 0
