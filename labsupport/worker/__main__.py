"""``python -m labsupport.worker COMMAND``: the worker lab's commands."""

import sys

try:
    from labsupport.worker.cli import main
except KeyboardInterrupt:  # Ctrl-C while the kit is still being imported
    sys.exit(130)

sys.exit(main())
