"""The conversation scripts the serving benchmark replays parse, and the plan is deterministic."""

import pytest

from bench import conversations


def test_the_shipped_scripts_parse():
    library = conversations.load()
    assert {"larkspur", "stock"} <= set(library)
    names = {s.name for s in library["larkspur"]}
    assert {"order_status", "refund_status", "faq", "fallback"} <= names
    assert all(s.turns for scripts in library.values() for s in scripts)
    # the stock starter only knows greet / mood / goodbye / bot_challenge: no shop tokens there
    assert not any(s.token for s in library["stock"])


def test_verified_scripts_name_seeded_customers():
    for script in conversations.load()["larkspur"]:
        if script.token:
            assert script.token.startswith("C1")


def test_plan_is_deterministic_and_senders_unique():
    library = conversations.load()["larkspur"]
    first = conversations.plan(library, 50, seed=3, prefix="t")
    second = conversations.plan(library, 50, seed=3, prefix="t")
    assert [c.sender for c in first] == [c.sender for c in second]
    assert [c.script.name for c in first] == [c.script.name for c in second]
    assert len({c.sender for c in first}) == 50


def test_tokens_attached_only_where_named():
    library = conversations.load()["larkspur"]
    plan = conversations.plan(library, 30, seed=1)
    conversations.attach_tokens(plan, lambda customer: f"token-for-{customer}")
    for c in plan:
        assert (c.metadata == {"customer_token": f"token-for-{c.script.token}"}) if c.script.token else not c.metadata


@pytest.mark.parametrize(
    "document",
    [
        {"larkspur": [{"name": "x", "turns": [{"text": "hi"}]}]},  # no stock scripts
        {"larkspur": [{"name": "x", "turns": []}], "stock": [{"name": "y", "turns": [{"text": "hi"}]}]},
        {
            "larkspur": [{"name": "x", "weight": 0, "turns": [{"text": "hi"}]}],
            "stock": [{"name": "y", "turns": [{"text": "hi"}]}],
        },
    ],
)
def test_bad_scripts_are_rejected(document):
    with pytest.raises(ValueError):
        conversations.parse(document)


def test_planned_senders_are_admitted_by_the_rest_channel_and_differ_by_prefix():
    from channels.sessions import random_enough

    scripts = [s for group in conversations.load().values() for s in group]
    first, other = conversations.plan(scripts, 20, prefix="a"), conversations.plan(scripts, 20, prefix="b")
    assert all(random_enough(c.sender) for c in first)
    assert len({c.sender for c in first}) == 20 and not {c.sender for c in first} & {c.sender for c in other}
    again = conversations.plan(scripts, 20, prefix="a")
    assert [c.sender for c in again] == [c.sender for c in first]  # reproducible
