"""`python -m launcher.rasa_server <rasa arguments>`: the Rasa CLI, logging JSON lines instead of colours.

`rasa run` installs `coloredlogs` on the root logger after reading any logging config, so a
`--logging-config-file` cannot make its console output JSON. This entry point swaps that one step for the
project's JSON logging and applies the fixes in launcher/rasa_patches.py, then runs the Rasa CLI, so
`logs/rasa.log` reads like every other log. When the model uses no TensorFlow, TensorFlow is not loaded at
all (launcher/tensorflow_stand_in.py; `RASA_TENSORFLOW_STAND_IN=off` loads it anyway).
"""

from __future__ import annotations

import logging
import os
import sys

# TensorFlow's C++ start-up chatter bypasses Python logging; keep only its errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _json_logging(loglevel: object = None) -> None:
    """Stands in for `rasa.utils.io.configure_colored_logging`: same level handling, JSON output."""
    from actions.observability import configure_json_logging

    level = loglevel or os.environ.get("LOG_LEVEL", "INFO")
    configure_json_logging(logging.getLevelName(level) if isinstance(level, int) else str(level))
    # Rasa sets its own logger's level from --debug/--verbose; the root only gates the libraries.
    for noisy in ("sanic.access", "matplotlib", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main() -> None:
    _json_logging()  # before importing Rasa: its imports warn, and those lines must be JSON too
    if os.environ.get("RASA_TENSORFLOW_STAND_IN", "auto") != "off":
        from launcher.tensorflow_stand_in import install_if_safe

        install_if_safe(sys.argv[1:])  # before Rasa imports TensorFlow
    import rasa.__main__
    import rasa.utils.io

    from launcher.rasa_patches import apply_all

    rasa.utils.io.configure_colored_logging = _json_logging
    apply_all()
    sys.argv[0] = "rasa"
    rasa.__main__.main()


if __name__ == "__main__":
    main()
