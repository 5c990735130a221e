"""bench/profile.py: a profile is read as the process it sampled, and each sample counts for its first stage."""

from __future__ import annotations

from bench import profile


def stacks(*samples: tuple[str, int]) -> list[tuple[list[str], int]]:
    return [([profile._short(f) for f in stack.split(";")], count) for stack, count in samples]


RASA = stacks(
    ("handle (rasa/core/processor.py:1);parse_message (rasa/core/processor.py:2);f (numpy/x.py:3)", 3),
    ("handle (rasa/core/processor.py:1);save (/v/site-packages/rasa/core/tracker_store.py:9)", 1),
)
ACTIONS = stacks(
    ("webhook (actions/server.py:1);parse_action_call (actions/server.py:80);loads (json/__init__.py:346)", 2),
    ("webhook (actions/server.py:1);run (rasa_sdk/executor.py:1);run (actions/orders.py:5)", 1),
    ("run (actions/orders.py:5);get_order (actions/backends/orders.py:3);request (actions/backends/http.py:1)", 1),
    ("run (actions/orders.py:5);info (logging/__init__.py:1);filter (foundation/logging.py:9)", 4),
)
SHOP = stacks(
    ("wsgi_app (flask/app.py:1);handler (demoshop/app.py:5);get_order (demoshop/api/orders.py:3)", 1),
    ("get_order (demoshop/api/orders.py:3);execute (sqlalchemy/orm/session.py:1)", 3),
)


def test_the_process_is_told_by_its_frames():
    assert profile.process_kind(RASA) == "rasa"
    assert profile.process_kind(ACTIONS) == "action server"
    assert profile.process_kind(SHOP) == "demo shop"


def test_each_sample_counts_once_for_the_first_stage_of_its_process():
    assert profile.stages(RASA, "rasa") == {
        "NLU pipeline (parse_message)": 75.0,
        "tracker store (retrieve/save, SQL, blocking)": 25.0,
    }
    assert profile.stages(ACTIONS, "action server") == {
        "logging and its redaction": 50.0,
        "reading Rasa's action call (JSON, shape check)": 25.0,
        "the actions' own code": 12.5,
        "backend calls (HTTP client, retries, breaker, parsing)": 12.5,
    }
    assert profile.stages(SHOP, "demo shop") == {
        "database (SQLAlchemy and its driver)": 75.0,
        "the shop's own code": 25.0,
    }


def test_a_profile_file_is_summarised_under_its_process(tmp_path, capsys):
    path = tmp_path / "bench-serve-profile-larkspur-demoshop.txt"
    path.write_text("".join(f"{';'.join(frames)} {count}\n" for frames, count in SHOP))
    assert profile.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 samples of the demo shop (idle excluded)")
    assert "75.0%  database (SQLAlchemy and its driver)" in out
