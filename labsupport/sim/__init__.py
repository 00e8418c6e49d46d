"""The ``sim`` backend: a seeded model of SQS behind the genuine boto3 client.

Standard queues store each message on several simulated servers, so short
polls miss some, deletes can miss a replica (a duplicate later), and
propagation jitter reorders messages; FIFO queues keep order per message
group. Time is virtual by default, so visibility timeouts pass in an instant
and every run with the same seed gives the same numbers. See
``docs/model.md`` for what is modelled and how it differs from the service.

- :func:`~labsupport.sim.backend.open_sim` (``connect("sim")``)
- :class:`SimModel`, :class:`SimParams`, :data:`PRESETS`
- :func:`attach` (a model behind an existing client), :class:`mock_sim`
  (every client, like moto's ``mock_aws``), :class:`SimServer` (over HTTP)
"""

from labsupport.sim.hook import attach, mock_sim
from labsupport.sim.model import SimModel
from labsupport.sim.params import PRESETS, SimConfigError, SimParams
from labsupport.sim.server import SimServer

__all__ = [
    "PRESETS",
    "SimConfigError",
    "SimModel",
    "SimParams",
    "SimServer",
    "attach",
    "mock_sim",
]
