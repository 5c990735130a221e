"""`python -m demoshop`: create and seed the database if needed, then serve the v1 API."""

from __future__ import annotations

import logging
import sys

from demoshop import metrics
from demoshop.app import create_app
from demoshop.config import Settings
from demoshop.db import Database
from demoshop.seed import seed_if_empty
from foundation.logging import configure_json_logging
from foundation.settings import SettingsError

log = logging.getLogger("demoshop")


def build(settings: Settings):
    """The app over a ready database: schema created, seed data in place."""
    db = Database(settings.database_url)
    db.create_schema()
    with db.write() as session:
        if seed_if_empty(session, settings.seed):
            log.info("seeded the demo shop", extra={"database": _safe_url(settings.database_url)})
    return create_app(settings, db)


def main() -> int:
    """Serve the demo shop until stopped; 2 when its settings or its database are unusable."""
    from waitress import serve

    configure_json_logging()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a queue-depth warning per burst of requests
    try:
        settings = Settings.from_env()
        metrics.DemoshopMetricsSettings.current()
    except SettingsError as exc:
        log.error("invalid configuration", extra={"error": str(exc)})
        return 2
    try:
        app = build(settings)
    except Exception as exc:  # a wrong database URL must say so, not print a stack trace
        log.error("cannot open the database", extra={"database": _safe_url(settings.database_url), "error": str(exc)})
        return 2
    metrics.serve()
    log.info(
        "demo shop listening",
        extra={"url": f"http://{settings.host}:{settings.port}", "database": _safe_url(settings.database_url)},
    )
    serve(app, host=settings.host, port=settings.port, threads=settings.threads, ident="demoshop")
    return 0


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"


if __name__ == "__main__":
    sys.exit(main())
