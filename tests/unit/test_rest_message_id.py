"""The REST channel's message id (channels/rest.py): the request's X-Request-ID, the same for every attempt nginx
makes of one request, so a retry of a stored turn is recognised (rasa_runtime/idempotent_turns.py)."""

from __future__ import annotations

from channels.rest import message_id
from foundation import correlation


def test_a_kept_request_id_is_the_messages_id():
    header = "widget-7f3a9c21.retry_1"
    assert message_id(header, correlation.accept(header)) == header


def test_without_a_usable_header_the_message_id_is_the_new_correlation_id():
    for header in (None, "", "short", "has spaces in it", "x" * 129):
        fresh = correlation.accept(header)
        assert message_id(header, fresh) == fresh


def test_a_header_the_log_masking_would_change_keeps_one_id_for_every_attempt():
    header = "abc4242424242424242def"  # looks like a card number: not kept as the correlation id
    assert not correlation.valid(header)
    first, retry = message_id(header, correlation.accept(header)), message_id(header, correlation.accept(header))
    assert first == retry and "4242424242424242" not in first and len(first) == 32
