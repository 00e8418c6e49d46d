"""labsupport: the helpers behind the SQS lab notebooks.

Connect to a backend, run experiments, measure and plot what happened::

    from labsupport import connect, run_experiment

    with connect("sim", seed=1) as conn:
        result = run_experiment(conn, messages=200)
    print(result.summary["inversions"])

Sub-modules: :mod:`labsupport.backends` (where queues live),
:mod:`labsupport.sim` (the seeded model of SQS), :mod:`labsupport.experiment`
(send, receive, run), :mod:`labsupport.metrics`, :mod:`labsupport.plots`,
:mod:`labsupport.worker` (the thumbnail worker daemon).
"""

import logging

from labsupport.backends import BACKENDS, DEFAULT_BACKEND, Connection, connect
from labsupport.errors import ConfigError, LabError, LimitError
from labsupport.experiment import (
    ExperimentResult,
    make_bodies,
    receive_repeatedly,
    run_experiment,
    send_batches,
)

__version__ = "0.1.0"

# The kit logs through "labsupport.*" loggers and leaves where the lines go to
# the application (a notebook turns them on with labsupport.lab.setup()).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "ConfigError",
    "Connection",
    "ExperimentResult",
    "LabError",
    "LimitError",
    "__version__",
    "connect",
    "make_bodies",
    "receive_repeatedly",
    "run_experiment",
    "send_batches",
]
