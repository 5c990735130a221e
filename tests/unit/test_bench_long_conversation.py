"""The long-conversation case of the serving benchmark computes its windows and its verdict as documented."""

from __future__ import annotations

from bench import long_conversation


def test_windows_are_medians_of_the_turns_they_name_and_missing_when_not_reached():
    latencies = [0.010] * 20 + [0.050] * 260 + [0.012] * 20  # 300 turns: fast early, slow middle, fast late
    found = long_conversation.medians(latencies)
    assert found == {"turns 1-20": 10.0, "turns 121-150": 50.0, "turns 271-300": 12.0, "turns 281-300": 12.0}
    assert long_conversation.medians(latencies[:200])["turns 281-300"] is None


def test_the_verdict_compares_turn_300_with_turn_10_against_the_target():
    assert long_conversation.verdict({"turns 1-20": 10.0, "turns 281-300": 12.0}) == {
        "ratio_300_to_10": 1.2,
        "target": 1.2,
        "met": True,
    }
    assert long_conversation.verdict({"turns 1-20": 10.0, "turns 281-300": 12.5})["met"] is False
    assert long_conversation.verdict({"turns 1-20": 10.0, "turns 281-300": None}) == {
        "ratio_300_to_10": None,
        "target": 1.2,
        "met": False,
    }


def test_the_stack_is_the_embedded_one_of_make_run(tmp_path):
    text = long_conversation.endpoints_for(tmp_path).read_text()
    assert "CachingSQLTrackerStore" in text and 'dialect: "sqlite"' in text
    assert "lock_store:\n  type: in_memory" in text and "event_broker:\n  type: SQL" in text
    assert "Bearer ${ACTION_SERVER_TOKEN}" in text  # unquoted, so Rasa expands it
