"""`python -m rasa_runtime <rasa arguments>`: the Rasa CLI as we serve it, logging JSON lines instead of colours.

Any Rasa command line works (`run`, `shell`, `test core`, ...) and behaves as `rasa <arguments>`, with:

- JSON logging: `rasa run` installs `coloredlogs` on the root logger after reading any logging config, so a
  `--logging-config-file` cannot make its console output JSON. This swaps that one step for the project's JSON
  logging, so `logs/rasa.log` reads like every other log.
- The fixes in rasa_runtime/patches.py, each switched off by its variable (`RASA_PATCH_VALIDATE_ONCE`,
  `RASA_PATCH_EVENT_TYPES`, `RASA_PATCH_GRAPH_RUNNER`: on/off, default on).
- When every model the command names uses no TensorFlow, TensorFlow is not loaded at all
  (rasa_runtime/tensorflow_stand_in.py; `RASA_TENSORFLOW_STAND_IN=off` loads it anyway).

At start one JSON line (logger `rasa_runtime`, shown even under LOG_LEVEL=WARNING) says which patches were
applied and whether the stand-in replaced TensorFlow, so a bug report's log says which Rasa it ran.
"""

from __future__ import annotations

import logging
import os
import sys

# TensorFlow's C++ start-up chatter bypasses Python logging; keep only its errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

logger = logging.getLogger("rasa_runtime")


def _json_logging(loglevel: object = None) -> None:
    """Stands in for `rasa.utils.io.configure_colored_logging`: same level handling, JSON output."""
    from foundation.logging import configure_json_logging

    level = loglevel or os.environ.get("LOG_LEVEL", "INFO")
    configure_json_logging(logging.getLevelName(level) if isinstance(level, int) else str(level))
    # Rasa sets its own logger's level from --debug/--verbose; the root only gates the libraries.
    for noisy in ("sanic.access", "matplotlib", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _subcommand(argv: list) -> str:
    """`test core` of `test core --model ...`: the leading words, never an option's value."""
    words = []
    for arg in argv:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words)


def main() -> None:
    from rasa_runtime import metrics, patches, tensorflow_stand_in

    try:  # a misspelt switch stops here, before the seconds of importing Rasa
        patches.switches()
        use_stand_in = tensorflow_stand_in.enabled()
        metrics.RasaMetricsSettings.current()
    except ValueError as error:
        sys.exit(f"python -m rasa_runtime: {error}")
    _json_logging()  # before importing Rasa: its imports warn, and those lines must be JSON too
    # What the runtime did at start is logged whatever LOG_LEVEL is (two or three lines per process).
    logger.setLevel(logging.INFO)
    argv = sys.argv[1:]
    stand_in = "off"
    if use_stand_in:
        # before Rasa imports TensorFlow
        stand_in = "installed" if tensorflow_stand_in.install_if_safe(argv) else "not installed"
    import rasa.__main__
    import rasa.utils.io

    rasa.utils.io.configure_colored_logging = _json_logging
    applied = patches.apply_all()
    switches = [
        f"{variable}={'on' if applied[patch.__name__] else 'off'}" for variable, patch in patches.SWITCHES.items()
    ]
    logger.info(
        "Rasa %s runtime: %s; TensorFlow stand-in %s",
        rasa.__version__,
        " ".join(switches),
        stand_in,
        extra={
            "rasa_version": rasa.__version__,
            "patches": applied,
            "tensorflow_stand_in": stand_in,
            "command": _subcommand(argv),
        },
    )
    if applied[metrics.export_metrics.__name__] and _subcommand(argv) == "run" and not {"-h", "--help"} & set(argv):
        metrics.serve()  # the server's own /metrics port (RASA_METRICS_PORT), not for train, test or shell
    sys.argv[0] = "rasa"
    rasa.__main__.main()


if __name__ == "__main__":
    main()
