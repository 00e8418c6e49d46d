"""Experiment helpers: send in batches, receive repeatedly, run both and measure."""

from labsupport.experiment.receive import Receiver, ReceiveResult, receive_repeatedly
from labsupport.experiment.run import ExperimentResult, run_experiment
from labsupport.experiment.send import Sender, SendResult, make_bodies, send_batches

__all__ = [
    "ExperimentResult",
    "ReceiveResult",
    "Receiver",
    "SendResult",
    "Sender",
    "make_bodies",
    "receive_repeatedly",
    "run_experiment",
    "send_batches",
]
