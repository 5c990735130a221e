"""The consumer of Rasa's RabbitMQ event broker (`make run-cluster`, compose: `event_broker: type: pika`).

Rasa's PikaEventBroker (aio-pika, which this consumer uses too) publishes each event as a persistent JSON
message to a fanout exchange bound to the durable queue the endpoints file names (`EVENT_QUEUE`,
analytics/settings.py). The consumer takes the messages in batches, counts a batch in one transaction
(analytics/store.py), and only then acknowledges it: a consumer that stops before acknowledging gets the batch
again, and the store's event keys make the redelivery count once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from analytics.mapping import parse_payload
from analytics.settings import EVENT_QUEUE
from analytics.store import AnalyticsStore

BATCH_SIZE = 500


class RabbitMQConsumer:
    """Counts the messages of the broker's queue into an `AnalyticsStore`, acknowledging each batch once counted."""

    def __init__(self, store: AnalyticsStore, url: str, *, queue: str = EVENT_QUEUE, batch_size: int = BATCH_SIZE):
        self.store, self.url, self.queue, self.batch_size = store, url, queue, batch_size

    def consume_once(self) -> int:
        """Count every message waiting in the queue; returns how many events were new."""
        return asyncio.run(self._drain())

    async def _drain(self) -> int:
        connection = await aio_pika.connect(self.url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.queue, durable=True)  # as Rasa declares it
            new = 0
            while True:
                events: list[dict[str, Any]] = []
                last: AbstractIncomingMessage | None = None
                while len(events) < self.batch_size:
                    message = await queue.get(no_ack=False, fail=False)
                    if message is None:
                        break
                    last = message
                    event = parse_payload(message.body)
                    if event is not None:
                        events.append(event)
                if last is None:
                    return new
                new += self.store.count(events)
                await last.ack(multiple=True)
        finally:
            await connection.close()
