"""``python -m labsupport.worker COMMAND``: the worker lab's commands."""

import sys

from labsupport.worker.cli import main

sys.exit(main())
