"""The project's one log format: every line a JSON object with `asctime`, `level`, `name` and `message`.

`configure_json_logging` is the set-up of every Python process we run (the demo shop, the action server, the
web chat, the Rasa server through rasa_runtime). It also makes every exception one record, its whole traceback
in the `exc_info` field: an uncaught one (main thread or another), and Sanic's error log, which would otherwise
print a second, plain copy line by line. Every record passes `RedactingFilter` first: emails, phone numbers,
street addresses, postcodes, IBANs, one-time codes and card numbers are masked (foundation/pii.py, the one
redaction layer, loaded only once a record holds something it could find) and conversation ids become their
references (foundation/redaction.py); then `CorrelationFilter` adds the
message's `correlation_id` (foundation/correlation.py). A valid id in that field is never masked: it was checked
where it entered, and the detectors would find a postcode or a phone number in a piece of a random id.

`ChildOutput` brings what a child process writes outside Python logging (native libraries, a crash's last
words) to the same shape, a Python traceback it prints as one record, so a log file stays JSON lines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from foundation import correlation, redaction
from foundation.correlation import CorrelationFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level"}
# The attributes every LogRecord has; anything else on a record is an `extra` field of its JSON line.
RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
TRACEBACK_START = "Traceback (most recent call last):"
# The lines Python prints between two tracebacks of one chain; each starts the next exception's record.
CHAIN_LINES = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)


def _conversation_ref(sender_id: str) -> str:
    from foundation.conversation_ref import conversation_ref  # the key is read only once an id is logged

    return conversation_ref(sender_id)


# Hex ids (conversation references, correlation ids, hashes) with letters and digits: never personal data, and a
# postcode or phone detector could otherwise take a piece of one. Kept as they are, like the masked ids.
# One that is part of an email or a domain (next to `@`, `.`, `+` or `-`) is not kept apart.
HEX_ID = re.compile(r"(?<![\w@.+-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}(?![\w@]|[.+-]\w)")
KEPT_OR_MASKED = re.compile(f"(?P<conversation>{redaction.CONVERSATION_ID.pattern})|{HEX_ID.pattern}")
_redacting = threading.local()  # set while a record's text is being redacted (scrubadub's own logs stay out)


def _personal_data_masked(text: str) -> str:
    """foundation/pii.py's masks for a log line's text; cheap for a text none of its detectors can match."""
    if not redaction.might_hold_personal_data(text):
        return text
    if getattr(_redacting, "active", False):  # a record logged while redacting one: the patterns only
        return redaction.redact_log_text(text)
    _redacting.active = True
    try:
        from foundation import pii  # loads scrubadub: only once a record needs it

        return pii.redact_for_logs(text)
    finally:
        _redacting.active = False


def redact_log_text(text: str) -> str:
    """A log line's text as it is written: personal data masked, each conversation id replaced by its
    reference, hex ids kept (the parts between them are redacted, so an id is never read as a phone number)."""
    pieces, position = [], 0
    for found in KEPT_OR_MASKED.finditer(text):
        pieces.append(_personal_data_masked(text[position : found.start()]))
        if found.group("conversation"):
            pieces += [redaction.CONVERSATION_PREFIX, _conversation_ref(found.group(0))]
        else:
            pieces.append(found.group(0))
        position = found.end()
    return "".join([*pieces, _personal_data_masked(text[position:])])


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_log_text(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Masks personal data (emails, phone numbers, addresses, IBANs, codes, cards) and conversation ids in a
    record before it is written.

    Logs are kept longer and read by more people than the conversation stores, and a debug line can carry a
    shopper's whole message. The message, every `extra` field and the traceback are masked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg, record.args = _redacted(record.getMessage()), ()
            for key, value in list(vars(record).items()):
                if key == correlation.LOG_FIELD and correlation.valid(value):
                    continue  # checked where it entered; the detectors would take a postcode out of `msg-7a51c9...`
                if key not in RECORD_ATTRIBUTES:
                    setattr(record, key, _redacted(value))
            if record.exc_info:
                record.exc_text = _redacted(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = _redacted(record.exc_text)
            if record.stack_info:
                record.stack_info = _redacted(record.stack_info)
        except Exception:  # a record that cannot be formatted is the formatter's to report, not ours
            pass
        return True


def configure_json_logging(level: str | int = "INFO", *, quiet: Iterable[str] = ()) -> None:
    """Send every log line of this process to stdout as one JSON object, Python warnings included.

    Replaces whatever handlers the root logger had. `quiet` names chatty libraries' loggers that only pass
    warnings and worse (for example `sanic.access`).
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(FORMAT, rename_fields=RENAMED))
    handler.addFilter(RedactingFilter())
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    _sanic_logs_to_root()


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """Stands in for `sys.excepthook`: the exception that ends the process as one record."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("uncaught").critical("uncaught exception: %s", error, exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """Stands in for `threading.excepthook`: the exception that ends a thread as one record."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger("uncaught").error(
        "uncaught exception in thread %s: %s",
        name,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )


def _sanic_logs_to_root() -> None:
    """Sanic's loggers write through the root's JSON handler only.

    A Sanic app created with its default logging (Rasa's HTTP server is) installs plain-text handlers on
    `sanic.*` that print each error's traceback line by line next to the JSON record. Its default config is
    emptied of handlers, so an app created later installs none, and handlers it installed already are removed.
    """
    sanic_log = sys.modules.get("sanic.log")
    if sanic_log is not None:
        defaults = sanic_log.LOGGING_CONFIG_DEFAULTS
        defaults["handlers"], defaults["formatters"] = {}, {}
        for logger_config in defaults["loggers"].values():
            logger_config["handlers"], logger_config["propagate"] = [], True
    for name in ("sanic.root", "sanic.error", "sanic.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


def as_json_line(raw: bytes, source: str) -> bytes:
    """A line of a child's output as one JSON object: JSON object lines pass as they are, anything else is
    wrapped (masked as a record is) in a record of the same keys, logged by `source`."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        if isinstance(json.loads(text), dict):
            return text.encode() + b"\n"
    except ValueError:
        pass
    return _record(source, "INFO", _redacted(text))


def _record(source: str, level: str, message: str, **fields: str) -> bytes:
    record = {"asctime": time.strftime("%Y-%m-%d %H:%M:%S"), "level": level, "name": source, "message": message}
    return json.dumps({**record, **fields}).encode() + b"\n"


class ChildOutput:
    """A child's output, line by line, as JSON lines; a Python traceback it prints is one record.

    Lines pass as `as_json_line` makes them, except a traceback: from `Traceback (most recent call last):` (or
    the line that chains it to the one before) through its indented frames to the exception's own line, it is
    one ERROR record whose `message` is that last line and whose `exc_info` is the whole traceback, as a
    logged exception's record has it. `feed` returns the lines ready to write; `close` what is left at the end.
    """

    def __init__(self, source: str):
        self.source = source
        self._traceback: list[str] = []

    def feed(self, raw: bytes) -> list[bytes]:
        """The JSON lines this line of output completes (none while a traceback is still being printed)."""
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if self._traceback:
            if text[:1] in (" ", "\t") or (text == TRACEBACK_START and self._traceback[-1] in CHAIN_LINES):
                self._traceback.append(text)
                return []
            if text != TRACEBACK_START and text not in CHAIN_LINES and not text.startswith("{"):
                self._traceback.append(text)  # the exception's own line ends it
                return self.close()
            return self.close() + self.feed(raw)
        if text == TRACEBACK_START or text in CHAIN_LINES:
            self._traceback.append(text)
            return []
        return [as_json_line(raw, self.source)]

    def close(self) -> list[bytes]:
        """The traceback in progress, if any, as one record (at the end of the output, or before other lines)."""
        if not self._traceback:
            return []
        lines, self._traceback = self._traceback, []
        whole = _redacted("\n".join(lines))
        return [_record(self.source, "ERROR", _redacted(lines[-1].strip()), exc_info=whole)]
