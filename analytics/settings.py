"""Where analytics keeps its store and where its consumers read from, from the environment (`.env.example`)."""

from __future__ import annotations

from pydantic import Field

from foundation.settings import PortOrZero, ProcessSettings

# The durable queue Rasa's RabbitMQ broker publishes to (docker/endpoints.production.yml, cluster/plan.py) and the
# analytics consumer reads: defined here, so the consumer's image needs nothing of cluster/.
EVENT_QUEUE = "larkspur_events"


class AnalyticsSettings(ProcessSettings):
    """The analytics store's database and the brokers' addresses; the command line's options override them.

    `ANALYTICS_HOST`, `ANALYTICS_PORT`, `REPORT_TOKEN` and `REPORT_CACHE_SECONDS` are the report page's
    (`consume --serve`, analytics/server.py); with no `REPORT_TOKEN` the page refuses every request.
    `ANALYTICS_DATABASE_URL` may carry a password (PostgreSQL in a cluster): its name marks it as a secret that
    error messages never repeat (foundation/settings.py). `ANALYTICS_RABBITMQ_URL` carries the broker's password
    too; it is only ever passed to pika, never logged.
    """

    database_url: str = Field("sqlite:///var/analytics.sqlite", env="ANALYTICS_DATABASE_URL")
    events_db: str = Field("var/rasa-events.sqlite", env="ANALYTICS_EVENTS_DB")
    rabbitmq_url: str = Field("", env="ANALYTICS_RABBITMQ_URL")
    poll_seconds: float = Field(5.0, env="ANALYTICS_POLL_SECONDS", gt=0)
    host: str = Field("127.0.0.1", env="ANALYTICS_HOST")
    port: PortOrZero = Field(8090, env="ANALYTICS_PORT")  # 0: any free port (tests)
    report_token: str = Field("", env="REPORT_TOKEN")
    report_cache_seconds: float = Field(5.0, env="REPORT_CACHE_SECONDS", ge=0)
