"""Where analytics keeps its store and where its consumers read from, from the environment (`.env.example`)."""

from __future__ import annotations

from pydantic import Field

from foundation.settings import ProcessSettings


class AnalyticsSettings(ProcessSettings):
    """The analytics store's database and the brokers' addresses; the command line's options override them.

    `ANALYTICS_DATABASE_URL` may carry a password (PostgreSQL in a cluster): its name marks it as a secret that
    error messages never repeat (foundation/settings.py). `ANALYTICS_RABBITMQ_URL` carries the broker's password
    too; it is only ever passed to pika, never logged.
    """

    database_url: str = Field("sqlite:///var/analytics.sqlite", env="ANALYTICS_DATABASE_URL")
    events_db: str = Field("var/rasa-events.sqlite", env="ANALYTICS_EVENTS_DB")
    rabbitmq_url: str = Field("", env="ANALYTICS_RABBITMQ_URL")
    poll_seconds: float = Field(5.0, env="ANALYTICS_POLL_SECONDS", gt=0)
