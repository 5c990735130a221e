"""Where a served turn's CPU goes: summarises py-spy's collapsed stacks (results/bench-serve-profile-*.txt).

`python -m bench.profile results/bench-serve-profile-larkspur.txt` prints the share of samples (idle
excluded) inside each stage of a turn and the top leaf functions. A sample counts for the first stage of the
process's stage list that any of its frames matches (so the lock store inside the REST handler counts as lock
store). The list is the Rasa replica's (STAGES), the action server's (ACTION_SERVER_STAGES) or the demo shop's
(SHOP_STAGES), whichever process the profile's frames show it sampled (`process_kind`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# (stage, pattern on one frame "function (path:line)"), in priority order.
STAGES: list[tuple[str, str]] = [
    ("lock store (Redis, blocking client)", r"(rasa/core|conversation_stores)/lock_store\.py"),
    ("tracker store (retrieve/save, SQL, blocking)", r"(rasa/core|conversation_stores)/tracker_store\.py"),
    ("NLU pipeline (parse_message)", r"^parse_message \(rasa/core/processor"),
    ("policy prediction", r"^_predict_next_with_tracker \(rasa/core/processor"),
    ("custom action call (HTTP to the action server, response validation)", r"^run \(rasa/core/actions/action\.py"),
    ("other actions (utter, listen, forms' bookkeeping)", r"rasa/core/actions/"),
    ("REST channel, Sanic, JSON", r"(rasa/core/channels/|sanic/|ujson|json)"),
    ("TensorFlow / numpy outside the above", r"(tensorflow|numpy|scipy|sklearn)"),
]

LOGGING = ("logging and its redaction", r"(foundation/(logging|pii|redaction)\.py|^\w+ \(logging/__init__\.py)")
ACTION_SERVER_STAGES: list[tuple[str, str]] = [
    LOGGING,
    ("reading Rasa's action call (JSON, shape check)", r"^parse_action_call \(actions/server\.py"),
    ("backend calls (HTTP client, retries, breaker, parsing)", r"actions/backends/"),
    ("the actions' own code", r"\(actions/(?!server\.py)"),
    ("rasa-sdk (tracker, executor, forms)", r"rasa_sdk/"),
    ("Sanic, JSON answer", r"(sanic/|json)"),
]
SHOP_STAGES: list[tuple[str, str]] = [
    LOGGING,
    ("database (SQLAlchemy and its driver)", r"(sqlalchemy/|psycopg|sqlite3)"),
    ("the contract's records (serialising)", r"(demoshop/serializers\.py|contract/)"),
    ("the shop's own code", r"\(demoshop/"),
    ("Flask, waitress", r"(flask/|werkzeug/|waitress/)"),
]
KINDS: dict[str, list[tuple[str, str]]] = {
    "rasa": STAGES,
    "action server": ACTION_SERVER_STAGES,
    "demo shop": SHOP_STAGES,
}


def process_kind(stacks: list[tuple[list[str], int]]) -> str:
    """Which process the samples come from: `action server`, `demo shop` or `rasa` (anything else)."""
    frames = {frame for stack, _ in stacks for frame in stack}
    if any(re.search(r"\(actions/server\.py", f) for f in frames):
        return "action server"
    if any(re.search(r"\(demoshop/app\.py", f) for f in frames):
        return "demo shop"
    return "rasa"


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if head and count.isdigit():
            stacks.append(([_short(f) for f in head.split(";")], int(count)))
    return stacks


def _short(frame: str) -> str:
    """'f (/x/site-packages/rasa/core/a.py:1)' -> 'f (rasa/core/a.py:1)'."""
    return re.sub(r"\((?:.*/site-packages/|.*/lib/python3\.\d+/)", "(", frame.strip())


def stages(stacks: list[tuple[list[str], int]], kind: str = "rasa") -> dict[str, float]:
    """The share of samples (percent) in each stage of `kind`'s list, largest first."""
    totals: Counter = Counter()
    total = sum(count for _, count in stacks) or 1
    compiled = [(name, re.compile(pattern)) for name, pattern in KINDS[kind]]
    for frames, count in stacks:
        stage = "other (event loop, logging, start-up work...)"
        if re.match(r"^serve \(sanic/server/runners", frames[-1]):
            stage = "event loop waiting on sockets (uvloop, not a stage)"
        else:
            stage = next((name for name, rx in compiled if any(rx.search(f) for f in frames)), stage)
        totals[stage] += count
    return {name: round(100.0 * n / total, 1) for name, n in totals.most_common()}


def leaves(stacks: list[tuple[list[str], int]], top: int = 15) -> list[tuple[str, float]]:
    total = sum(count for _, count in stacks) or 1
    counter: Counter = Counter()
    for frames, count in stacks:
        counter[frames[-1]] += count
    return [(frame, round(100.0 * n / total, 1)) for frame, n in counter.most_common(top)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    stacks = parse(args.profile)
    kind = process_kind(stacks)
    print(f"{sum(c for _, c in stacks)} samples of the {kind} (idle excluded)")
    for name, share in stages(stacks, kind).items():
        print(f"  {share:5.1f}%  {name}")
    print("top leaf functions:")
    for frame, share in leaves(stacks, args.top):
        print(f"  {share:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
