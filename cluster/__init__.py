"""`make run-cluster`: the production topology on one machine, from Debian packages, on 127.0.0.1.

nginx in front of N Rasa replicas (PostgreSQL tracker store, Redis lock store, RabbitMQ event broker) and of M
action servers, the demo shop on PostgreSQL; every process started, watched, restarted when it dies and stopped
by PID (docs/operations.md#run-cluster).
"""
