"""Messaging-platform input channels of the Larkspur assistant (registered by module path in credentials.yml).

Every channel reads its secrets from the environment itself, so `rasa run` starts with nothing set: an
unconfigured channel answers 503 `channel_not_configured` and logs one warning at start-up.
"""
