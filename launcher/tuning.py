"""The Rasa process's tuning variables (thread counts, log level), defined once in scripts/rasa-env.sh.

`make run` and the serving benchmark both start Rasa with them, so a figure the benchmark prints is a figure
of the stack `make run` starts.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

RASA_ENV_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "rasa-env.sh"


def rasa_env(script: Path = RASA_ENV_SCRIPT) -> dict[str, str]:
    """The tuning variables scripts/rasa-env.sh exports (what `make run` uses too), as a dict.

    Sourced by bash so the file stays the one place they are defined; values already in the environment win.
    """
    if not script.exists():
        return {}
    dump = 'source "$1" >/dev/null; env -0'
    before = dict(os.environ)
    out = subprocess.run(["bash", "-c", dump, "bash", str(script)], capture_output=True, check=True).stdout
    after = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {k: v for k, v in after.items() if before.get(k) != v and k not in {"_", "SHLVL", "PWD", "OLDPWD"}}
