"""The worker lab's commands: ``serve``, ``worker``, ``thumbnails submit|status``.

They are subcommands of ``sqs-lab`` (registered by :func:`add_worker_commands`)
and also run as ``python -m labsupport.worker COMMAND ...``.

``sqs-lab serve [--backend moto|sim] [--port N]``
    a local SQS + S3 endpoint on 127.0.0.1; prints its URL, runs until
    SIGINT or SIGTERM.
``sqs-lab thumbnails submit --endpoint-url URL --count N [--poison K]``
    creates the queues and bucket if needed, uploads N images, sends N jobs.
``sqs-lab worker --endpoint-url URL [--store PATH] [--wait-time S] ...``
    one worker; SIGINT/SIGTERM stop it cleanly (the current job finishes
    within ``--stop-grace`` or is released); a second one releases the
    current job at once, or ends an idle worker's long poll at once.
``sqs-lab thumbnails status --endpoint-url URL [--json] [--store PATH]``
    the counts of :mod:`labsupport.worker.status`.

The job store defaults to ``sqs-lab-jobs.sqlite3`` in the current directory:
give workers and ``status`` the same ``--store``.

Every option is checked before anything is sent or created (queue names,
bucket name, the SQS limits, the store path, the endpoint URL); a bad one
is one line on stderr naming the rule, the limit and the value, exit status
2. A Ctrl-C before the worker's signal handlers are in place ends the
command with one line and exit status 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labsupport.errors import LabError

__all__ = ["DEFAULT_STORE", "add_worker_commands", "main"]

logger = logging.getLogger(__name__)

DEFAULT_STORE = "sqs-lab-jobs.sqlite3"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
INTERRUPTED = 130  # the shell's status for a command ended by SIGINT


def add_worker_commands(sub: Any) -> None:
    """Add ``serve``, ``worker`` and ``thumbnails`` to a subparsers object."""
    _add_serve(sub)
    _add_worker(sub)
    _add_thumbnails(sub)


def _add_names(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        required=True,
        metavar="URL",
        help="the local endpoint, as printed by `sqs-lab serve`",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--queue", default="thumbnail-jobs", help="job queue name")
    parser.add_argument(
        "--dead-letter-queue",
        default="thumbnail-jobs-dlq",
        metavar="NAME",
        help="dead-letter queue name",
    )
    parser.add_argument("--bucket", default="sqs-lab-thumbnails")


def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="a local SQS + S3 endpoint on loopback")
    serve.add_argument("--backend", choices=["moto", "sim"], default="moto")
    serve.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port on 127.0.0.1 (default 0: any free port)",
    )
    serve.add_argument("--seed", type=int, default=1, help="sim model seed")
    serve.set_defaults(func=cmd_serve)


def _add_worker(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run one thumbnail worker")
    _add_names(worker)
    worker.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="PATH",
        help=f"job store file (default {DEFAULT_STORE})",
    )
    worker.add_argument(
        "--wait-time",
        type=int,
        default=10,
        metavar="S",
        help="long-poll WaitTimeSeconds, 0 to 20 (default 10)",
    )
    worker.add_argument(
        "--work-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="extra seconds each job takes (default 0)",
    )
    worker.add_argument(
        "--max-messages",
        type=int,
        default=1,
        metavar="N",
        help="MaxNumberOfMessages per receive, 1 to 10",
    )
    worker.add_argument("--visibility-timeout", type=int, default=30, metavar="S")
    worker.add_argument(
        "--backoff",
        type=int,
        default=1,
        metavar="S",
        help="visibility after a first failure, doubling (default 1)",
    )
    worker.add_argument(
        "--stop-grace",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a job may go on after a stop (default 30)",
    )
    worker.add_argument("--worker-id", default=None, help="name in logs and store")
    worker.add_argument(
        "--max-jobs",
        type=int,
        default=None,
        metavar="N",
        help="exit after handling N messages",
    )
    worker.add_argument(
        "--exit-when-idle",
        type=int,
        default=None,
        metavar="POLLS",
        help="exit after this many empty polls in a row",
    )
    worker.set_defaults(func=cmd_worker)


def _add_thumbnails(sub: Any) -> None:
    thumbs = sub.add_parser("thumbnails", help="submit thumbnail jobs, see status")
    actions = thumbs.add_subparsers(dest="action", required=True)

    submit = actions.add_parser("submit", help="upload images and send jobs")
    _add_names(submit)
    submit.add_argument("--count", type=int, required=True, metavar="N")
    submit.add_argument(
        "--poison", type=int, default=0, metavar="K", help="K of the N jobs always fail"
    )
    submit.add_argument(
        "--resend",
        type=int,
        default=0,
        metavar="R",
        help="R good jobs are sent twice (duplicate messages)",
    )
    submit.add_argument("--seed", type=int, default=1)
    submit.add_argument(
        "--max-receive-count",
        type=int,
        default=3,
        metavar="N",
        help="receives before a message moves to the DLQ",
    )
    submit.set_defaults(func=cmd_submit)

    status = actions.add_parser("status", help="jobs submitted, done, dead, waiting")
    _add_names(status)
    status.add_argument("--store", default=DEFAULT_STORE, metavar="PATH")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=cmd_status)


# -- commands -------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """``sqs-lab serve``: print the URL, serve until a signal, exit 0."""
    from labsupport.worker.serve import serve_until_signal

    sim = {"seed": args.seed} if args.backend == "sim" else {}
    return serve_until_signal(args.backend, args.port, **sim)


def cmd_worker(args: argparse.Namespace) -> int:
    """``sqs-lab worker``: one worker until SIGINT/SIGTERM (or its limits)."""
    try:
        return _run_worker(args)
    except KeyboardInterrupt:
        # Ctrl-C before the handlers were installed: nothing was started.
        print("worker interrupted before it started", file=sys.stderr)
        return INTERRUPTED


def _run_worker(args: argparse.Namespace) -> int:
    from labsupport.worker.daemon import (
        WorkerSettings,
        check_run_limit,
        install_signal_handlers,
    )
    from labsupport.worker.thumbnails import check_work_seconds, thumbnail_worker

    settings = {
        "wait_time": args.wait_time,
        "max_messages": args.max_messages,
        "visibility_timeout": args.visibility_timeout,
        "failure_backoff": args.backoff,
        "stop_grace": args.stop_grace,
        "worker_id": args.worker_id,
    }
    names = _names(args)
    WorkerSettings(**settings)  # every check before anything is sent
    check_work_seconds(args.work_seconds)
    check_run_limit("--max-jobs", args.max_jobs)
    check_run_limit("--exit-when-idle polls", args.exit_when_idle)
    if not logging.getLogger().handlers:  # the entry point, not the library
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    with _clients(args, wait_time=args.wait_time) as clients:
        worker = thumbnail_worker(
            clients.sqs,
            clients.s3,
            names,
            store_path=args.store,
            work_seconds=args.work_seconds,
            poll_sqs=clients.sqs_poll,
            release_sqs=clients.sqs_once,
            **settings,
        )
        restore = install_signal_handlers(worker)
        try:
            worker.run(max_jobs=args.max_jobs, max_empty_polls=args.exit_when_idle)
        finally:
            # Close before restoring the handlers: a Ctrl-C now is ignored.
            worker.store.close()
            restore()
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    """``sqs-lab thumbnails submit``: resources, images, job messages."""
    from labsupport.worker.thumbnails import (
        check_job_mix,
        check_max_receive_count,
        ensure_resources,
        submit_jobs,
    )

    _names(args)
    check_job_mix(args.count, args.poison, args.resend)
    check_max_receive_count(args.max_receive_count)
    with _clients(args) as clients:
        resources = ensure_resources(
            clients.sqs,
            clients.s3,
            _names(args),
            max_receive_count=args.max_receive_count,
        )
        jobs = submit_jobs(
            clients.sqs,
            clients.s3,
            resources,
            args.count,
            poison=args.poison,
            resend=args.resend,
            seed=args.seed,
        )
    print(f"submitted {len(jobs)} jobs ({args.poison} poison) to {args.queue}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """``sqs-lab thumbnails status``: the seven counts, as text or JSON."""
    from labsupport.worker.status import format_status, thumbnail_status
    from labsupport.worker.thumbnails import find_resources

    names = _names(args)
    with _clients(args) as clients:
        resources = find_resources(clients.sqs, names)
        status = thumbnail_status(clients.sqs, clients.s3, resources, args.store)
    if not Path(args.store).exists():
        # Said after the endpoint answered: an unreachable endpoint is the
        # one thing worth reporting then.
        print(
            f"note: no job store at {args.store!r}: jobs_done and "
            "duplicate_deliveries are 0 (pass the workers' --store)",
            file=sys.stderr,
        )
    print(json.dumps(status) if args.json else format_status(status))
    return 0


# -- plumbing ---------------------------------------------------------------------


def _names(args: argparse.Namespace) -> Any:
    """The names given, checked (queue and bucket rules) before any request."""
    from labsupport.worker.clients import check_endpoint_url
    from labsupport.worker.thumbnails import ThumbnailNames

    check_endpoint_url(args.endpoint_url)
    return ThumbnailNames(args.queue, args.dead_letter_queue, args.bucket)


@contextmanager
def _clients(args: argparse.Namespace, wait_time: int = 20) -> Iterator[Any]:
    """Clients for ``args.endpoint_url``; connection failures become BackendError."""
    from labsupport.worker.clients import connection_errors, local_clients

    with connection_errors(args.endpoint_url):
        yield local_clients(args.endpoint_url, args.region, wait_time)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m labsupport.worker``: the worker lab's commands on their own."""
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.worker",
        description="The SQS worker lab: endpoint, worker, thumbnail jobs.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    add_worker_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except LabError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    return status
