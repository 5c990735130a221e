"""Runs the assistant's embedded stack on one machine (`make run`, `make stop`): start, watch, stop by PID."""
