"""A system that is down mid-form, through a running Rasa server: the shopper is told and offered a person, the
form ends without the goal's action answering too, and a yes hands the conversation over.

The action server's CRM and orders clients point at a demo shop that was started and stopped; its helpdesk
client at the running one, so the handoff can be checked. Needs the trained model (`make train`).
"""

from __future__ import annotations

import re

import pytest

from actions import customer_token
from tests.conftest import ShopApi
from tests.support.processes import start_demoshop
from tests.support.stack import MODEL, new_sender, start_stack

SECRET = "live-outage-customer-token-secret-0123"
OUTAGE = "system isn't answering right now"
OFFER = "Would you like me to pass this to a colleague?"

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason=f"{MODEL} is missing: run `make train`")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stopped, stopped_base = start_demoshop(tmp_path_factory.mktemp("stopped"))
    stopped.stop()
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        env={
            "CUSTOMER_TOKEN_SECRET": SECRET,
            "CRM_BASE_URL": stopped_base,
            "ORDERS_BASE_URL": stopped_base,
            "BACKEND_MAX_ATTEMPTS": "2",
            "BACKEND_BACKOFF_INITIAL": "0.01",
            "BACKEND_CONNECT_TIMEOUT": "0.5",
        },
    )
    yield running
    running.stop()


def said(messages) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def test_the_crm_down_at_the_email_is_told_once_and_yes_hands_over(stack):
    sender = new_sender()
    assert "email address" in said(stack.say(sender, "where is my order?"))
    answer = stack.say(sender, "emma.jansen@example.com")
    text = said(answer)
    assert f"customer account {OUTAGE}" in text and text.count(OFFER) == 1
    assert "6-digit code" not in text and "couldn't confirm that it's you" not in text
    handed = said(stack.say(sender, "yes"))
    assert "as ticket #" in handed
    ticket_id = re.search(r"ticket #(\d+)", handed).group(1)
    ticket = ShopApi(stack.shop_url).get(f"/v1/tickets/{ticket_id}").json()
    assert ticket["metadata"]["reason"] == "backend_unavailable:crm" and ticket["conversation_id"] == f"rest:{sender}"


def test_the_orders_system_down_for_a_signed_in_shopper_is_told_once_and_no_leaves_it(stack):
    sender = new_sender()
    token = {"customer_token": customer_token.issue("C1001", secret=SECRET)}
    text = said(stack.say(sender, "where is my refund?", metadata=token))
    assert f"order {OUTAGE}" in text and text.count(OFFER) == 1 and text.count(OUTAGE) == 1
    assert "order number" not in text  # the form does not go on to ask for the order
    declined = said(stack.say(sender, "no thanks", metadata=token))
    assert 'say "talk to a person" any time' in declined and OUTAGE not in declined
