"""The ``sqs-lab`` command: run experiments and demos from a terminal.

``sqs-lab run`` makes one experiment and writes its tables, summary and plots;
``sqs-lab demo`` is the instructor's side-by-side comparison. Other commands
(a local endpoint, the thumbnail worker) register themselves in
:func:`build_parser`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labsupport.backends import BACKENDS, DEFAULT_BACKEND, connect
from labsupport.errors import LabError

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Options that choose and configure a backend, shared by subcommands."""
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        metavar="NAME",
        help=f"one of {', '.join(BACKENDS)} (default: {DEFAULT_BACKEND})",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--preset",
        default=None,
        help="sim model preset: realistic (default), classroom, ideal",
    )
    parser.add_argument("--endpoint-url", help="URL for the endpoint backend")
    parser.add_argument("--region", help="AWS region (default us-east-1 offline)")
    parser.add_argument(
        "--allow-aws",
        action="store_true",
        help="opt in to real AWS (costs money; see README)",
    )
    parser.add_argument(
        "--aws-message-cap",
        type=int,
        default=None,
        metavar="N",
        help="aws backend: refuse to send more than N messages (default 10000)",
    )


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``connect`` keyword arguments that the parsed options ask for."""
    options: dict[str, Any] = {}
    if args.region:
        options["region"] = args.region
    if args.backend == "sim":
        options["seed"] = args.seed
        if args.preset:
            options["preset"] = args.preset
    elif args.preset:
        raise LabError(
            f"--preset applies to the sim backend only; got --backend {args.backend}."
        )
    if args.backend == "endpoint":
        options["endpoint_url"] = args.endpoint_url
    if args.backend == "aws":
        if args.allow_aws:  # else SQS_LAB_ALLOW_AWS decides
            options["allow_aws"] = True
        if args.aws_message_cap is not None:
            options["max_messages"] = args.aws_message_cap
    return options


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="run one experiment and write its report")
    add_backend_options(run)
    run.add_argument(
        "--messages", type=int, default=200, help="messages to send (default 200)"
    )
    run.add_argument(
        "--batch-size",
        type=int,
        default=10,
        help="entries per SendMessageBatch call, 1 to 10 (default 10)",
    )
    run.add_argument(
        "--wait-time",
        type=int,
        default=20,
        help="WaitTimeSeconds: 0 short polling, up to 20 long polling",
    )
    run.add_argument(
        "--visibility-timeout",
        type=int,
        default=30,
        help="seconds a received message stays hidden (default 30)",
    )
    run.add_argument("--queue-type", choices=["standard", "fifo"], default="standard")
    run.add_argument(
        "--groups", type=int, default=1, help="FIFO message groups (default 1)"
    )
    run.add_argument(
        "--payload-bytes", type=int, default=100, help="body size (default 100)"
    )
    run.add_argument(
        "--keep", action="store_true", help="do not delete messages (shows redelivery)"
    )
    run.add_argument("--out", type=Path, help="directory for CSVs, summary, plots")
    run.add_argument(
        "--json", action="store_true", help="print the summary as JSON on stdout"
    )
    run.set_defaults(func=cmd_run)


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="instructor demo: ideal vs realistic vs FIFO, side by side"
    )
    demo.add_argument(
        "--messages", type=int, default=1000, help="messages per run (default 1000)"
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("report/demo"),
        help="report directory (default report/demo)",
    )
    demo.add_argument(
        "--json", action="store_true", help="print the summaries as JSON on stdout"
    )
    demo.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sqs-lab`` with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sqs-lab", description="Measure how Amazon SQS delivers messages."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_demo(sub)
    from labsupport.worker.cli import add_worker_commands

    add_worker_commands(sub)
    return parser


def _check_writable(out: Path) -> None:
    """Fail before the experiment, not after it, if ``out`` cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".sqs-lab-write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as err:
        raise LabError(
            f"Cannot write the report to {out}: {err.strerror or err}. "
            "Choose another --out directory."
        ) from err


def cmd_run(args: argparse.Namespace) -> int:
    """``sqs-lab run``: one experiment, its report and summary."""
    from labsupport.experiment import run_experiment
    from labsupport.report import format_summary

    if args.out:
        _check_writable(args.out)
    with connect(args.backend, **backend_options(args)) as conn:
        result = run_experiment(
            conn,
            messages=args.messages,
            batch_size=args.batch_size,
            queue_type=args.queue_type,
            wait_time=args.wait_time,
            visibility_timeout=args.visibility_timeout,
            delete=not args.keep,
            groups=args.groups,
            payload_bytes=args.payload_bytes,
            seed=args.seed,
        )
    if args.out:
        result.save(args.out)
    if args.json:
        print(json.dumps(result.summary))
    else:
        print(format_summary(result.summary))
        if args.out:
            print(f"report written to {args.out}/")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``sqs-lab demo``: the same run on several queues, compared."""
    from labsupport.report import format_summary, run_demo

    _check_writable(args.out)
    summaries = run_demo(args.out, messages=args.messages, seed=args.seed)
    if args.json:
        print(json.dumps(summaries))
    else:
        for label, summary in summaries.items():
            print(f"== {label}")
            print(format_summary(summary))
        print(f"report written to {args.out}/")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sqs-lab``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        status: int = args.func(args)
    except LabError as err:
        print(f"sqs-lab: error: {err}", file=sys.stderr)
        return 2
    except ClientError as err:
        error = err.response.get("Error", {})
        print(
            f"sqs-lab: the service said {error.get('Code')}: {error.get('Message')}",
            file=sys.stderr,
        )
        return 1
    except BotoCoreError as err:
        print(f"sqs-lab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sqs-lab: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
