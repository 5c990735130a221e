"""Conversation analytics: Rasa's broker events into a store of conversations and turns, and `make report`.

The consumers (`sql_consumer.py` for the SQL broker of `make run`, `rabbitmq_consumer.py` for the RabbitMQ broker
of `make run-cluster` and compose) read the events Rasa publishes, `mapping.py` turns them into conversations and
turns, `store.py` keeps those (SQLAlchemy: SQLite embedded, PostgreSQL in a cluster), `summary.py` counts them and
`report.py` renders `results/report.html`. What is counted and kept: docs/analytics.md.
"""
