"""Notebook-facing helpers: set-up, compact tables, figures and self-checks.

The lab notebooks start with::

    from labsupport.lab import checks, setup

    setup()

:func:`setup` turns on the kit's warnings and makes figures show as PNG
images; :mod:`labsupport.lab.checks` holds one self-check function per
exercise; :mod:`labsupport.lab.costs` turns a run's tables into request
counts and dollars; :mod:`labsupport.lab.polling` makes a trickle of
traffic to compare short and long polling on. Nothing here runs at import.
"""

from labsupport.lab.display import (
    brief,
    caught,
    describe_backends,
    describe_presets,
    environment,
    message_table,
    model_only,
    model_stats,
    queue_depth,
    setup,
    show,
    summary_table,
)

__all__ = [
    "brief",
    "caught",
    "describe_backends",
    "describe_presets",
    "environment",
    "message_table",
    "model_only",
    "model_stats",
    "queue_depth",
    "setup",
    "show",
    "summary_table",
]
