"""Secrets `make run` and `make shell` set up by themselves, so a laptop needs no `.env` to start the stack.

A variable set in the environment (or `.env`) always wins. Unset, the value comes from `var/secrets/<NAME>`,
created on first use with 32 random bytes (URL-safe base64) and mode 0600, so the Rasa server and the action
server started by the launcher share it across restarts. The servers themselves never fall back to these files:
in a deployment an unset secret stops them at start.

`python -m foundation.local_secrets NAME` prints the value (the shell script uses it).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from foundation import REPO

SECRETS_DIR = REPO / "var" / "secrets"
NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")


def local_secret(name: str, directory: Path = SECRETS_DIR) -> str:
    """The environment's value of `name`, or this checkout's generated one (created now if missing)."""
    if not NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    value = os.environ.get(name, "").strip()
    if value:
        return value
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    fresh = secrets.token_urlsafe(32)
    # Written whole under a private name, then linked into place: a reader never sees a half-written file, and
    # of two processes starting at once the second finds the first's and uses it.
    draft = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(fresh + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        draft.unlink()
    return fresh


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m foundation.local_secrets NAME")
    print(local_secret(sys.argv[1]))
