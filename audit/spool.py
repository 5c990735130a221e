"""Changes the audit store could not take when they were made, kept in a local file until it can.

One JSON line per change, in the order they were made; a file lock keeps the action-server processes of one
host from writing or draining it at the same time. Draining appends them in order before anything newer, and a
change appended twice (a crash between the append and the rewrite of the file) is kept once by the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

from audit.records import Change, canonical_json


class Spool:
    """A local file of changes waiting for the audit store."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.lock = FileLock(f"{self.path}.lock", timeout=30)

    def put(self, change: Change) -> None:
        """Keep `change` for later (flushed to disk before returning)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, self.path.open("a", encoding="utf-8") as spool:
            spool.write(canonical_json(change.to_json()) + "\n")
            spool.flush()
            os.fsync(spool.fileno())

    def pending(self) -> int:
        """How many changes are waiting."""
        if not self.path.exists():
            return 0
        with self.lock:
            return len(self._lines())

    def drain(self, append: Callable[[Change], Any]) -> int:
        """Hand each waiting change to `append`, oldest first; the number appended.

        An `append` that raises stops the drain: that change and the later ones stay, and the error goes on. A line
        that is not a change is moved to `<spool>.rejected`.
        """
        if not self.path.exists():
            return 0
        with self.lock:
            lines = self._lines()
            consumed = appended = 0
            try:
                for line in lines:
                    try:
                        waiting = Change.from_json(json.loads(line))
                    except (ValueError, TypeError):  # a damaged line: kept aside for a person, not retried forever
                        self._set_aside(line)
                    else:
                        append(waiting)
                        appended += 1
                    consumed += 1
            finally:
                if consumed:
                    self._rewrite(lines[consumed:])
            return appended

    def _set_aside(self, line: str) -> None:
        with self.path.with_name(self.path.name + ".rejected").open("a", encoding="utf-8") as rejected:
            rejected.write(line + "\n")

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _rewrite(self, lines: list[str]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(temporary, self.path)
