"""The RabbitMQ consumer against a real RabbitMQ (Debian's rabbitmq-server, as `make run-cluster` starts it) fed by
Rasa's own PikaEventBroker: every event counted once, acknowledged, and a redelivery not counted again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika
import pytest
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from analytics.rabbitmq_consumer import RabbitMQConsumer
from analytics.store import AnalyticsStore
from cluster.backing import RABBITMQ_SERVER, rabbitmq_members
from foundation.processes import ChildProcess, free_port

USER, PASSWORD, QUEUE = "larkspur", "analytics-test-password", "larkspur_events_test"


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    if not Path(RABBITMQ_SERVER).exists():
        pytest.skip("rabbitmq-server is missing: run `make system-deps`")
    root = tmp_path_factory.mktemp("rabbitmq")
    ports = {"epmd": free_port(), "rabbitmq": free_port(), "rabbitmq-dist": free_port()}
    started = []
    try:
        for member in rabbitmq_members(root, ports, USER, PASSWORD):
            if member.prepare:
                member.prepare()
            process = ChildProcess(member.name, member.command, member.env, root / f"{member.name}.log")
            started.append(process)
            process.wait_until(member.ready, timeout=member.startup_seconds)
        yield ports["rabbitmq"]
    finally:
        for process in reversed(started):
            process.stop()


def turn_events(sender: str, start: float) -> list[dict]:
    events = [
        UserUttered("where is my order 10007?", {"name": "check_order_status", "confidence": 0.9}),
        ActionExecuted("action_order_status"),
        BotUttered("On its way", metadata={"utter_action": "utter_order_status"}),
        ActionExecuted("action_listen"),
    ]
    for offset, event in enumerate(events):
        event.timestamp = start + offset * 0.25
    return [{"sender_id": sender, **event.as_dict()} for event in events]


def publish_with_rasas_broker(port: int, events: list[dict]) -> None:
    async def publish() -> None:
        broker = PikaEventBroker("127.0.0.1", USER, PASSWORD, port=port, queues=[QUEUE])
        await broker.connect()
        for event in events:
            broker.publish(event)
        await asyncio.gather(*list(broker._background_tasks))
        await broker.close()

    asyncio.run(publish())


def waiting(port: int) -> int:
    async def count() -> int:
        connection = await aio_pika.connect(host="127.0.0.1", port=port, login=USER, password=PASSWORD)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(QUEUE, passive=True)
            return queue.declaration_result.message_count

    return asyncio.run(count())


def test_the_queue_is_counted_acknowledged_and_a_redelivery_counts_once(rabbitmq, tmp_path):
    store = AnalyticsStore(f"sqlite:///{tmp_path / 'analytics.sqlite'}", ref_secret="rabbitmq-test")
    consumer = RabbitMQConsumer(store, f"amqp://{USER}:{PASSWORD}@127.0.0.1:{rabbitmq}/", queue=QUEUE, batch_size=3)
    events = turn_events("teams:29:abc", 1_796_000_000.0) + turn_events("slack:T/C/U", 1_796_000_100.0)
    try:
        publish_with_rasas_broker(rabbitmq, events)
        assert waiting(rabbitmq) == len(events)
        assert consumer.consume_once() == len(events)
        assert waiting(rabbitmq) == 0  # acknowledged
        publish_with_rasas_broker(rabbitmq, events[:4])  # the broker delivers the first turn again
        assert consumer.consume_once() == 0
        conversations = {c.channel: c for c in store.conversations()}
        assert set(conversations) == {"teams", "slack"}
        assert all(c.turns == 1 for c in conversations.values())
        assert [turn.latency_seconds for turn in store.turns()] == pytest.approx([0.5, 0.5])
    finally:
        store.close()
