"""The plumbing every process of the project shares: settings, JSON logging, starting and stopping processes.

Imported by the demo shop, the action server, the channels, the web chat, the launcher, rasa_runtime, the
benchmarks and the tests; it imports none of them, so any of them can use it without pulling in another.
Each module is imported on its own (`from foundation.settings import ...`): the demo shop's container holds
only what its own imports need.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
"""The repository root: where the project's processes are started from, so relative paths such as `.env`,
`models/` and `var/` mean the same to all of them."""
