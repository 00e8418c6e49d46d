"""Readable summaries and the instructor demo's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labsupport.backends import connect
from labsupport.experiment import ExperimentResult, run_experiment

__all__ = ["DEMO_RUNS", "format_summary", "run_demo"]

# label -> (connect options, run_experiment options). The main run is first:
# its files go to the top of the report folder.
DEMO_RUNS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "standard (realistic model)": ({"preset": "realistic"}, {}),
    "standard (ideal, like moto)": ({"preset": "ideal"}, {}),
    "standard (classroom, exaggerated)": ({"preset": "classroom"}, {}),
    "FIFO, one group (realistic model)": (
        {"preset": "realistic"},
        {"queue_type": "fifo"},
    ),
}


def format_summary(summary: dict[str, Any]) -> str:
    """A summary dict as a few aligned lines for a terminal."""
    lat = summary.get("latency_ms") or {}

    def ms(key: str) -> str:
        value = lat.get(key)
        return "-" if value is None else f"{value:.1f}"

    rows = [
        ("backend", summary.get("backend")),
        ("messages sent", summary.get("messages_sent")),
        ("unique delivered", summary.get("unique_delivered")),
        ("deliveries", summary.get("deliveries")),
        ("duplicates", summary.get("duplicates")),
        ("missing", summary.get("missing")),
        ("queue", _queue_line(summary)),
        ("ordering inversions", summary.get("inversions")),
        (
            "adjacent pairs out of order",
            f"{100 * (summary.get('adjacent_inversion_ratio') or 0):.1f} %",
        ),
        (
            "latency p50/p90/p99/max",
            f"{ms('p50')} / {ms('p90')} / {ms('p99')} / {ms('max')} ms",
        ),
        (
            "receive calls (empty)",
            f"{summary.get('receive_calls')} ({summary.get('empty_receives')})",
        ),
        ("wall-clock time", f"{summary.get('elapsed_s')} s"),
    ]
    if summary.get("inversions_within_groups") is not None:
        rows.insert(
            8, ("inversions within groups", summary["inversions_within_groups"])
        )
    if summary.get("virtual_elapsed_s") is not None:
        rows.append(("time on the model's clock", f"{summary['virtual_elapsed_s']} s"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def _queue_line(summary: dict[str, Any]) -> str:
    kind = str(summary.get("queue_type", "standard"))
    if summary.get("groups"):
        kind += f", {summary['groups']} message group(s)"
    if summary.get("preset"):
        kind += f", {summary['preset']} model"
    return kind


def run_demo(
    out_dir: str | Path, messages: int = 1000, seed: int = 1
) -> dict[str, dict[str, Any]]:
    """Run :data:`DEMO_RUNS` on the sim backend and write the report.

    The first run's CSVs, summary.json and plots go to ``out_dir``; every
    run's tables go to a sub-folder; ``comparison.png`` shows the runs side
    by side and ``comparison.json`` holds every summary. Returns the
    summaries by label.
    """
    from labsupport.plots import compare_runs

    out = Path(out_dir)
    results: dict[str, ExperimentResult] = {}
    for i, (label, (conn_opts, run_opts)) in enumerate(DEMO_RUNS.items()):
        with connect("sim", seed=seed, **conn_opts) as conn:
            result = run_experiment(conn, messages=messages, seed=seed, **run_opts)
        result.summary["label"] = label
        results[label] = result
        result.save(out if i == 0 else out / _slug(label), plots=i == 0)
    figure = compare_runs(results)
    figure.savefig(out / "comparison.png", dpi=100)
    summaries = {label: r.summary for label, r in results.items()}
    (out / "comparison.json").write_text(
        json.dumps(summaries, indent=2) + "\n", encoding="utf-8"
    )
    return summaries


def _slug(label: str) -> str:
    keep = [c if c.isalnum() else "-" for c in label.lower()]
    return "-".join(part for part in "".join(keep).split("-") if part)
