"""Start real services for a test on 127.0.0.1 and a free port, wait for them, stop them by PID.

The helpers live in foundation/ (processes.py, local_servers.py), shared with the launcher and the benchmarks;
this module keeps the names the tests use.
"""

from __future__ import annotations

from foundation import REPO
from foundation.local_servers import start_demoshop
from foundation.processes import ChildProcess, free_port

Service = ChildProcess  # what the tests call a process they started

__all__ = ["REPO", "Service", "free_port", "start_demoshop"]
