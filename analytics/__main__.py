"""`python -m analytics consume ...` (the broker consumers, with `--serve` the report page too) and
`python -m analytics report` (`make report`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import NoReturn

from analytics import metrics
from analytics.rabbitmq_consumer import RabbitMQConsumer
from analytics.settings import AnalyticsSettings
from analytics.sql_consumer import SqlBrokerConsumer
from analytics.store import AnalyticsStore
from foundation.logging import configure_json_logging

DEFAULT_REPORT = Path("results") / "report.html"
log = logging.getLogger("analytics")


def parser(settings: AnalyticsSettings) -> argparse.ArgumentParser:
    """The command line; defaults from the environment (`ANALYTICS_*`, `.env.example`)."""
    main = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    main.add_argument("--database-url", default=settings.database_url, help="the analytics store (SQLAlchemy URL)")
    commands = main.add_subparsers(dest="command", required=True)
    consume = commands.add_parser("consume", help="count the event broker's events into the analytics store")
    consume.add_argument("--source", choices=("sql", "rabbitmq"), default="sql")
    consume.add_argument("--db", default=settings.events_db, help="SQL broker: SQLite file or SQLAlchemy URL")
    consume.add_argument("--url", default=settings.rabbitmq_url, help="RabbitMQ broker: amqp:// URL")
    consume.add_argument("--queue", default=None, help="RabbitMQ broker: queue (default: the cluster's)")
    consume.add_argument("--once", action="store_true", help="count what is there now, then exit (tests, cron)")
    consume.add_argument(
        "--serve",
        action="store_true",
        help="also serve the report page at /report on ANALYTICS_HOST:ANALYTICS_PORT (REPORT_TOKEN required)",
    )
    report = commands.add_parser("report", help="count the SQL broker's events once, then write the HTML report")
    report.add_argument("--events-db", default=settings.events_db, help="the SQL broker's SQLite file or URL")
    report.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    return main


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status says whether it worked."""
    settings = AnalyticsSettings.from_env()
    metrics.AnalyticsMetricsSettings.current()  # a bad ANALYTICS_METRICS_PORT stops the start, naming it
    args = parser(settings).parse_args(argv)
    configure_json_logging(quiet=("matplotlib",))
    store = AnalyticsStore(args.database_url)
    try:
        if args.command == "report":
            from analytics.report import NO_DATA, make_report

            summary = make_report(store, args.events_db, args.out)
            print(f"Report: {args.out}" if summary.conversations else f"{NO_DATA} (wrote {args.out})")
            return 0
        consumer = _consumer(args, store)
        if consumer is None:
            return 2
        if args.once:
            print(f"{consumer.consume_once()} new events counted")
            return 0
        if not args.serve:
            _count_forever(consumer, args.source, settings.poll_seconds)
        return _serve(consumer, store, settings, args.source)
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


def _serve(
    consumer: SqlBrokerConsumer | RabbitMQConsumer, store: AnalyticsStore, settings: AnalyticsSettings, source: str
) -> int:
    """The supervised process of make run, run-cluster, compose and Kubernetes: the report page in a thread beside
    the counting loop."""
    from analytics.page import PageCache, store_page
    from analytics.server import ReportServer

    page = PageCache(store_page(store, f"the analytics store ({source} broker)"), settings.report_cache_seconds)
    server = ReportServer(settings.host, settings.port, page, settings.report_token).start()
    try:
        _count_forever(consumer, source, settings.poll_seconds)
    finally:
        server.stop()


def _count_forever(consumer: SqlBrokerConsumer | RabbitMQConsumer, source: str, poll_seconds: float) -> NoReturn:
    """Count the broker's new events every `poll_seconds` until interrupted; a failed round (the broker or the
    store away for a while) is logged and the next one tries again, so the process outlives a broker restart.
    Each round is in the metrics (analytics/metrics.py), served on ANALYTICS_METRICS_PORT."""
    metrics.serve()
    while True:
        count_round(consumer, source)
        time.sleep(poll_seconds)


def count_round(consumer: SqlBrokerConsumer | RabbitMQConsumer, source: str) -> int | None:
    """One counting round: the number of new events, or None when it failed (logged and counted, never raised)."""
    try:
        new = consumer.consume_once()
    except Exception as problem:
        log.warning("counting broker events failed; trying again", extra={"error": type(problem).__name__})
        metrics.failed(source)
        return None
    metrics.counted(source, new)
    if new:
        log.info("counted broker events", extra={"events": new, "source": source})
    return new


def _consumer(args: argparse.Namespace, store: AnalyticsStore) -> SqlBrokerConsumer | RabbitMQConsumer | None:
    if args.source == "sql":
        return SqlBrokerConsumer(store, args.db)
    if not args.url:
        print("--source rabbitmq needs --url amqp://user:password@host:port/ (or ANALYTICS_RABBITMQ_URL)")
        return None
    return RabbitMQConsumer(store, args.url, **({"queue": args.queue} if args.queue else {}))


if __name__ == "__main__":
    sys.exit(main())
