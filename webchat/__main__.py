"""`python -m webchat`: serve the chat page and widget on WEBCHAT_HOST:WEBCHAT_PORT (default 127.0.0.1:8080)."""

from __future__ import annotations

import logging
import signal
import sys

from foundation.logging import configure_json_logging
from foundation.settings import SettingsError
from webchat import metrics
from webchat.server import Settings, make_server

log = logging.getLogger("webchat")


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # leaves serve_forever() and closes the socket below


def main() -> int:
    configure_json_logging()
    try:
        settings = Settings.from_env()
        metrics.WebchatMetricsSettings.current()
    except SettingsError as exc:
        log.error("invalid configuration", extra={"error": str(exc)})
        return 2
    try:
        server, url = make_server(settings)
    except OSError as exc:
        log.error("cannot listen", extra={"host": settings.host, "port": settings.port, "error": str(exc)})
        return 2
    signal.signal(signal.SIGTERM, _stop)
    metrics.serve()
    log.info("web chat listening", extra={"url": url + "/", "rasa_url": settings.rasa_url})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("web chat stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
