"""Rasa's documented tracker-store and lock-store behaviour, as checks any store class must pass (SOURCE.md)."""
