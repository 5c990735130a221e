"""The project's one log format: every line a JSON object with `asctime`, `level`, `name` and `message`.

`configure_json_logging` is the set-up of every Python process we run (the demo shop, the action server, the
web chat, the Rasa server through rasa_runtime); `as_json_line` brings what a child process writes outside
Python logging (native libraries, a crash's last words) to the same shape, so a log file stays JSON lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level"}


def configure_json_logging(level: str | int = "INFO", *, quiet: Iterable[str] = ()) -> None:
    """Send every log line of this process to stdout as one JSON object, Python warnings included.

    Replaces whatever handlers the root logger had. `quiet` names chatty libraries' loggers that only pass
    warnings and worse (for example `sanic.access`).
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(FORMAT, rename_fields=RENAMED))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def as_json_line(raw: bytes, source: str) -> bytes:
    """A line of a child's output as one JSON object: JSON object lines pass as they are, anything else is
    wrapped in a record of the same keys, logged by `source`."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        if isinstance(json.loads(text), dict):
            return text.encode() + b"\n"
    except ValueError:
        pass
    record = {"asctime": time.strftime("%Y-%m-%d %H:%M:%S"), "level": "INFO", "name": source, "message": text}
    return json.dumps(record).encode() + b"\n"
